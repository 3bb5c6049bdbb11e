import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sendConditional } from '../storage/conditional.js';
import { userKeys, userPrefix, userSk } from '../storage/tables.js';
import type { StoredUser } from './user.js';

/**
 * One email, one active user; the newest employment wins. An address a Personio employee brings may already belong
 * to another user of the tenant:
 * - a Dado user never linked to Personio: the employee is linked to it (the same person, first import);
 * - a user whose employee is no longer active (inactive in Personio, or deactivated because it left): a recycled
 *   address or a rehire under a new Personio id. The new employee gets its own user and the address; the old user
 *   keeps its history, stays inactive and records the address it had (`previousEmail`). Two Personio ids are never
 *   merged into one user;
 * - a user of an employee who is still active: a conflict (`email_taken`, both Personio ids named), unless the run
 *   may yet find that employee gone (then the decision waits for the run's completion).
 */
export type EmailDecision =
  | { kind: 'free' }
  | { kind: 'link'; userId: string }
  | { kind: 'take'; from: StoredUser[] }
  | { kind: 'defer'; holder: StoredUser }
  | { kind: 'conflict'; holder: StoredUser };

/**
 * Decides what an employee may do with an address, given every user that holds it. `final` is true at the run's
 * completion, when every employee of the run has been seen and its leavers deactivated: an active holder then is a
 * genuine conflict.
 */
export function decideEmail(holders: readonly StoredUser[], self: { userId: string; personioId: number }, final: boolean, runId?: string): EmailDecision {
  const others = holders.filter((h) => h.userId !== self.userId);
  if (others.length === 0) return { kind: 'free' };
  const sameEmployee = others.find((h) => h.personioId === self.personioId || h.personioId === undefined || h.personioId === null);
  const activeOther = others.find((h) => h !== sameEmployee && h.active);
  // A holder this very run has written is in Personio now: it cannot turn out gone, so there is nothing to wait for.
  const seenByRun = runId !== undefined && (activeOther?.changedInRun === runId || activeOther?.createdInRun === runId);
  if (activeOther) return final || seenByRun ? { kind: 'conflict', holder: activeOther } : { kind: 'defer', holder: activeOther };
  if (sameEmployee) return { kind: 'link', userId: sameEmployee.userId };
  return { kind: 'take', from: others };
}

export class EmailHolders {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly getUsers: (tenantId: string, userIds: string[]) => Promise<Map<string, StoredUser>>,
    private readonly now: () => Date,
  ) {}

  /** Every user holding the address (case-insensitive), not one arbitrary match. */
  async find(tenantId: string, email: string): Promise<StoredUser[]> {
    const userIds: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: userKeys.emailIndex,
          KeyConditionExpression: 'tenantId = :t AND emailKey = :e',
          ExpressionAttributeValues: { ':t': tenantId, ':e': email.toLowerCase() },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) userIds.push(String(item['sk']).slice(userPrefix.length));
      start = page.LastEvaluatedKey;
    } while (start);
    // The index is eventually consistent: a user it still lists may have passed the address on already.
    const key = email.toLowerCase();
    return [...(await this.getUsers(tenantId, userIds)).values()].filter((u) => u.emailKey === key);
  }

  /**
   * Takes the address off an inactive user so a newer employee can have it: the user keeps everything else and
   * records the address as `previousEmail`. Conditioned on the user still being inactive and still holding it; false
   * if either changed (the caller decides again).
   */
  async release(tenantId: string, holder: StoredUser): Promise<boolean> {
    // The content hash stays: it stands for what Personio says of this employee, which has not changed, so the next
    // import of the leaver writes nothing.
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(holder.userId) },
        UpdateExpression: 'SET previousEmail = email, email = :null, updatedAt = :now REMOVE emailKey',
        ConditionExpression: 'active = :false AND emailKey = :key',
        ExpressionAttributeValues: { ':null': null, ':now': this.now().toISOString(), ':false': false, ':key': holder.emailKey },
      }),
    );
  }
}
