export type LocalStackErrorCode =
  | 'java_missing'
  | 'port_in_use'
  | 'dynamodb_failed'
  | 'sqs_failed'
  | 'secrets_manager_failed'
  | 'scheduler_failed'
  | 'lambda_failed'
  | 'eventbridge_failed';

/** A local stack that could not start; the message says what to do about it. */
export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;

  constructor(code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalStackError';
    this.code = code;
  }
}
