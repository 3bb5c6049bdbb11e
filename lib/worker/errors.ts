import { CodedError } from '../util/errors.js';

export type WorkerErrorCode = 'malformed_message' | 'unknown_run';

/** A message that can never succeed: reported, left to the queue's redrive into the DLQ. */
export class PermanentMessageError extends CodedError<WorkerErrorCode> {
  override readonly name = 'PermanentMessageError';
}
