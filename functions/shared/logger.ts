import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs with the Lambda context; the level comes from POWERTOOLS_LOG_LEVEL. */
export const createLogger = (serviceName: string): Logger => new Logger({ serviceName });

/** What of an error may reach a log line: its name, code and message (our messages never carry secrets). */
export function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, ...(typeof code === 'string' ? { code } : {}), message: error.message };
  }
  return { name: 'NonError', message: String(error) };
}
