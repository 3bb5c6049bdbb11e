export type WorkerErrorCode = 'malformed_message' | 'unknown_run';

/** A message that can never succeed: reported, left to the queue's redrive into the DLQ. */
export class PermanentMessageError extends Error {
  override readonly name = 'PermanentMessageError';
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
