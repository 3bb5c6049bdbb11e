import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isContention } from './contention.js';

/** Whether a write was refused by its ConditionExpression. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException;
}

/** Whether a transaction was cancelled because the condition of its first item failed. */
export function isFirstTransactConditionFailed(error: unknown): boolean {
  return error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}

/** Whether a transaction was cancelled because the condition of its item at `index` failed. */
export function isTransactConditionFailedAt(error: unknown, index: number): boolean {
  return error instanceof TransactionCanceledException && error.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed';
}

/**
 * Whether a DynamoDB call may succeed if repeated: contention, throttling, a 5xx, a timeout or a network error. A
 * refusal of the request itself (ValidationException: a value DynamoDB cannot hold) or a value the SDK cannot
 * marshal (an unsafe number) will fail the same way every time.
 */
export function isTransientStoreError(error: unknown): boolean {
  if (isContention(error)) return true;
  if (!(error instanceof Error)) return false;
  const meta = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: unknown };
  if (meta.$retryable) return true;
  const status = meta.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  if (['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException'].includes(error.name)) return true;
  // Node's network errors (ECONNRESET, ETIMEDOUT, …) carry their code; the marshaller's errors carry none.
  return typeof meta.code === 'string' && /^E[A-Z_]+$/.test(meta.code);
}

/** Sends a conditional write: true when it was applied, false when its condition refused it; other errors throw. */
export async function sendConditional<C extends PutCommand | UpdateCommand | DeleteCommand>(
  db: { send(command: C): Promise<unknown> },
  command: C,
): Promise<boolean> {
  try {
    await db.send(command);
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
