import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** Whether a write was refused by its ConditionExpression. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException;
}

/** Whether a transaction was cancelled because the condition of its first item failed. */
export function isFirstTransactConditionFailed(error: unknown): boolean {
  return error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}

/** Sends a conditional write: true when it was applied, false when its condition refused it; other errors throw. */
export async function sendConditional<C extends PutCommand | UpdateCommand | DeleteCommand>(db: { send(command: C): Promise<unknown> }, command: C): Promise<boolean> {
  try {
    await db.send(command);
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
