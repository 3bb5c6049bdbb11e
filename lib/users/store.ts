import { BatchGetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MappedEmployee } from '../mapping/map-employee.js';
import { sendConditional } from '../storage/conditional.js';
import { queryByPrefix } from '../storage/query.js';
import { linkPrefix, linkSk, userPrefix, userSk } from '../storage/tables.js';
import { sleep } from '../util/concurrency.js';
import { EmailHolders } from './email-holders.js';
import { UserUpserts, type ImportSource, type UpsertOutcome } from './upserts.js';
import { contentHash, pickContent, toUserRecord, type StoredUser, type UserRecord } from './user.js';
import { personioUserId } from './user-id.js';

export { personioUserId };
export type { ImportSource, UpsertFailure, UpsertOutcome } from './upserts.js';

/**
 * Users of a tenant, keyed by a stable user id. A user the import creates gets an id derived from
 * its Personio id and is created with a condition, so duplicate or concurrent deliveries can never
 * create two users, and one write per new user is all it costs. A user that existed in Dado before
 * (same email, no Personio link) keeps its id and gets a link item `personio#<id>` → userId, written
 * conditionally with the link on the user. Later imports find users through either, whatever
 * happened to the email since.
 */
export class UserStore {
  private readonly emails: EmailHolders;
  private readonly upserts: UserUpserts;

  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.emails = new EmailHolders(db, tableName, (tenantId, userIds) => this.getUsers(tenantId, userIds), now);
    this.upserts = new UserUpserts(db, tableName, now, this, this.emails);
  }

  /** Applies employees' mapped data to their users (lib/users/upserts.ts). */
  async upsertMany(tenantId: string, employees: MappedEmployee[], source: ImportSource): Promise<UpsertOutcome> {
    return this.upserts.upsertMany(tenantId, employees, source);
  }

  /**
   * Finds the users of Personio employees with batched reads only: the link item (for users that
   * existed in Dado before and were linked by email) and the user the import itself would have
   * created under its derived id.
   */
  async resolve(tenantId: string, personioIds: number[]): Promise<Map<number, { userId: string; user: StoredUser | undefined }>> {
    const items = await this.batchGet(
      personioIds.flatMap((id) => [
        { tenantId, sk: linkSk(id) },
        { tenantId, sk: userSk(personioUserId(tenantId, id)) },
      ]),
    );
    const links = new Map<number, string>();
    const users = new Map<string, StoredUser>();
    for (const item of items) {
      const sk = String(item['sk']);
      if (sk.startsWith(linkPrefix)) links.set(Number(sk.slice(linkPrefix.length)), String(item['userId']));
      else users.set(String(item['userId']), item as unknown as StoredUser);
    }
    const linkedUsers = [...links.values()].filter((userId) => !users.has(userId));
    for (const [userId, user] of await this.getUsers(tenantId, linkedUsers)) users.set(userId, user);

    const resolved = new Map<number, { userId: string; user: StoredUser | undefined }>();
    for (const id of personioIds) {
      const linked = links.get(id);
      const userId = linked ?? personioUserId(tenantId, id);
      const user = users.get(userId);
      if (linked || user) resolved.set(id, { userId, user });
    }
    return resolved;
  }

  /** The users already imported for these Personio employees (batched reads only), keyed by Personio id. */
  async getByPersonioIds(tenantId: string, personioIds: number[]): Promise<Map<number, UserRecord>> {
    const found = new Map<number, UserRecord>();
    for (const [id, { user }] of await this.resolve(tenantId, personioIds)) if (user) found.set(id, toUserRecord(user));
    return found;
  }

  /** Every user holding the address: what the mapping preview explains an import's email decision from. */
  async emailHolders(tenantId: string, email: string): Promise<StoredUser[]> {
    return this.emails.find(tenantId, email);
  }

  /** Every user of the tenant (the `--dump-users` view). */
  async list(tenantId: string): Promise<UserRecord[]> {
    return (await this.listStored(tenantId)).map(toUserRecord);
  }

  /** Every user with its bookkeeping, read strongly consistently: what a run's completion decides on. */
  async listStored(tenantId: string): Promise<StoredUser[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: userPrefix, consistentRead: true });
    return items as unknown as StoredUser[];
  }

  /** These users with their bookkeeping (missing ones are left out). */
  async getStored(tenantId: string, userIds: string[]): Promise<Map<string, StoredUser>> {
    return this.getUsers(tenantId, userIds);
  }

  /**
   * Links a user to its manager's user, if the user still reports to the same Personio manager. The link is derived,
   * not Personio data, and the content hash leaves it out, so this write neither advances nor disturbs the user's
   * version.
   */
  async setManagerLink(tenantId: string, userId: string, managerPersonioId: number | null, managerUserId: string | null): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(userId) },
        UpdateExpression: 'SET managerUserId = :manager',
        ConditionExpression:
          managerPersonioId === null
            ? 'attribute_exists(sk) AND (attribute_not_exists(managerPersonioId) OR managerPersonioId = :null)'
            : 'managerPersonioId = :mpid',
        ExpressionAttributeValues: { ':manager': managerUserId, ...(managerPersonioId === null ? { ':null': null } : { ':mpid': managerPersonioId }) },
      }),
    );
  }

  /**
   * Deactivates (never deletes) a user a run found gone from Personio, as of that run's fetch. A versioned write, and
   * the rule that protects people who still work there: it applies only if the user is still active, still exactly
   * as the run saw it (content hash), and no import fetched after this run began has written it (syncedAt). It then
   * carries the run's fetch time as its version, so an older message redelivered later cannot reactivate a leaver.
   * False when any of that no longer holds: the user is left alone.
   */
  async deactivate(tenantId: string, user: StoredUser, decision: { asOf: string; runId: string; reason: 'not_in_personio' }): Promise<boolean> {
    const now = this.now().toISOString();
    const next = { ...pickContent(user), active: false };
    const applied = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(user.userId) },
        UpdateExpression:
          'SET active = :false, deactivatedAt = :now, deactivationReason = :reason, deactivatedInRun = :run, contentHash = :hash, syncedAt = :asOf, changedInRun = :run, updatedAt = :now',
        ConditionExpression: `active = :true AND ${user.contentHash ? 'contentHash = :seen' : 'attribute_not_exists(contentHash)'} AND (attribute_not_exists(syncedAt) OR syncedAt <= :asOf)`,
        ExpressionAttributeValues: {
          ':false': false,
          ':true': true,
          ':now': now,
          ':reason': decision.reason,
          ':hash': contentHash(next),
          ':asOf': decision.asOf,
          ':run': decision.runId,
          ...(user.contentHash ? { ':seen': user.contentHash } : {}),
        },
      }),
    );
    if (applied) return true;
    // Refused: also when the SDK repeated this very write after its answer was lost. It is this run's if it says so.
    const stored = (await this.getUsers(tenantId, [user.userId])).get(user.userId);
    return !!stored && !stored.active && stored.deactivatedInRun === decision.runId;
  }

  async getUsers(tenantId: string, userIds: string[]): Promise<Map<string, StoredUser>> {
    const items = await this.batchGet(userIds.map((id) => ({ tenantId, sk: userSk(id) })));
    return new Map(items.map((item) => [String(item['userId']), item as unknown as StoredUser]));
  }

  /** BatchGetItem in chunks of 100, re-asking for unprocessed keys with back-off. */
  private async batchGet(keys: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const unique = [...new Map(keys.map((k) => [JSON.stringify(k), k])).values()];
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = unique.slice(i, i + 100);
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(50 * 2 ** attempt, 2_000));
        if (attempt > 8) throw new Error('DynamoDB kept keys unprocessed after 8 attempts');
        const result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }));
        found.push(...(result.Responses?.[this.tableName] ?? []));
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }
}
