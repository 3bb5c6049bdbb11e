/**
 * Base of the modules' own error types: a stable `code` callers act on, and the underlying `cause`.
 * Each module keeps its own subclass (with its own `name`), so `instanceof` tells where an error came from.
 */
export abstract class CodedError<C extends string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The name of whatever was thrown, for messages that must not echo its content. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}
