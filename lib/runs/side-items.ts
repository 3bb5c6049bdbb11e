import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sendConditional } from '../storage/conditional.js';
import { queryByPrefix } from '../storage/query.js';
import { firingSk, pendingPrefix, pendingSk, runKeys, runPendingPrefix } from '../storage/tables.js';
import type { PendingDeactivation } from './marker.js';
import { expiresAfter } from './retention.js';

const FIRING_TTL_S = 2 * 24 * 60 * 60;
/** Pending deactivations per item: 1,000 ids of 36 characters plus hashes stay far below DynamoDB's 400 KB. */
const PENDING_CHUNK = 1_000;

/**
 * Items of the runs table beside the run records: one per schedule firing (which run it started) and a held run's
 * pending deactivations. Callers reach them through RunStore.
 */
export class RunSideItems {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  /**
   * The run of a schedule firing: the one given, if this is the firing's first delivery; otherwise the run an earlier
   * delivery chose for it (a duplicate delivery, or Lambda's retry after a crash). Kept two days, far longer than
   * Scheduler's and Lambda's retries of one firing.
   */
  async runOfFiring(tenantId: string, scheduledAt: string, runId: string, now: Date): Promise<string> {
    const key = { tenantId, sk: firingSk(scheduledAt) };
    const fresh = await sendConditional(
      this.db,
      new PutCommand({
        TableName: this.tableName,
        Item: { ...key, runId, at: now.toISOString(), [runKeys.ttl]: Math.floor(now.getTime() / 1000) + FIRING_TTL_S },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    if (fresh) return runId;
    const earlier = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return typeof earlier.Item?.['runId'] === 'string' ? earlier.Item['runId'] : runId;
  }

  /**
   * Stores a held run's pending deactivations before the run is marked held: approval applies exactly these. Always at
   * least one item, if empty (a run held for a vanished field may have nobody to deactivate): the items are how the
   * held runs of a tenant are found (heldRunIds). No expiry: they stay until the run is decided (lib/runs/retention.ts).
   */
  async savePending(tenantId: string, runId: string, pending: PendingDeactivation[]): Promise<void> {
    for (let i = 0, chunk = 0; i === 0 || i < pending.length; i += PENDING_CHUNK, chunk++) {
      const users = pending.slice(i, i + PENDING_CHUNK);
      await this.db.send(new PutCommand({ TableName: this.tableName, Item: { tenantId, sk: pendingSk(runId, chunk), runId, users } }));
    }
  }

  async pending(tenantId: string, runId: string): Promise<PendingDeactivation[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: runPendingPrefix(runId), consistentRead: true });
    return items.flatMap((item) => (item['users'] as PendingDeactivation[] | undefined) ?? []);
  }

  /** The runs of the tenant with a pending list still in force: its held runs not yet decided. */
  async heldRunIds(tenantId: string): Promise<string[]> {
    const keys = await this.pendingKeys(tenantId, pendingPrefix, { undecidedOnly: true });
    return [...new Set(keys.map((k) => k.runId))];
  }

  /**
   * A decided run's pending list: nothing reads it once the run is approved or superseded, so its users are removed
   * and its items expire now (DynamoDB's TTL deletes them within days: the product's roles may not delete an item).
   * Answers how many items were still in force.
   */
  async retirePending(tenantId: string, runId: string, now: Date): Promise<number> {
    const keys = await this.pendingKeys(tenantId, runPendingPrefix(runId), { undecidedOnly: true });
    for (const { sk } of keys) {
      await sendConditional(
        this.db,
        new UpdateCommand({
          TableName: this.tableName,
          Key: { tenantId, sk },
          UpdateExpression: `REMOVE #users SET ${runKeys.ttl} = :now`,
          ConditionExpression: 'attribute_exists(sk)',
          ExpressionAttributeNames: { '#users': 'users' },
          ExpressionAttributeValues: { ':now': expiresAfter(now, 0) },
        }),
      );
    }
    return keys.length;
  }

  /**
   * Sort keys and run ids only: a chunk holds up to 1,000 users, none of which a caller here needs. A retired chunk
   * (empty, expiring) is a hundred bytes, so leaving those out by filter costs little.
   */
  private async pendingKeys(tenantId: string, prefix: string, options: { undecidedOnly: boolean }): Promise<{ sk: string; runId: string }[]> {
    const keys: { sk: string; runId: string }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'tenantId = :t AND begins_with(sk, :p)',
          ProjectionExpression: 'sk, runId',
          ...(options.undecidedOnly ? { FilterExpression: `attribute_not_exists(${runKeys.ttl})` } : {}),
          ExpressionAttributeValues: { ':t': tenantId, ':p': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) keys.push({ sk: String(item['sk']), runId: String(item['runId']) });
      start = page.LastEvaluatedKey;
    } while (start);
    return keys;
  }
}
