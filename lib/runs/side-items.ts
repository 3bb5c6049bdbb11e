import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sendConditional } from '../storage/conditional.js';
import { queryByPrefix } from '../storage/query.js';
import { firingSk, pendingSk, runKeys, runPendingPrefix } from '../storage/tables.js';
import type { PendingDeactivation } from './marker.js';

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

  /** Stores a held run's pending deactivations before the run is marked held: approval applies exactly these. */
  async savePending(tenantId: string, runId: string, pending: PendingDeactivation[]): Promise<void> {
    for (let i = 0, chunk = 0; i < pending.length; i += PENDING_CHUNK, chunk++) {
      const users = pending.slice(i, i + PENDING_CHUNK);
      await this.db.send(new PutCommand({ TableName: this.tableName, Item: { tenantId, sk: pendingSk(runId, chunk), runId, users } }));
    }
  }

  async pending(tenantId: string, runId: string): Promise<PendingDeactivation[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: runPendingPrefix(runId), consistentRead: true });
    return items.flatMap((item) => (item['users'] as PendingDeactivation[] | undefined) ?? []);
  }
}
