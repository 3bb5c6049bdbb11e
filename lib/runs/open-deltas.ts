import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sendConditional } from '../storage/conditional.js';
import { openDeltaPrefix, openDeltasPartition, runKeys } from '../storage/tables.js';
import { expiresAfter } from './retention.js';

/** Far longer than any delta run's leases (processing: 45 minutes plus the grace of a backlog). */
const REGISTRY_DAYS = 2;

export interface OpenDelta {
  tenantId: string;
  runId: string;
}

/**
 * The delta runs that are not known to be final, across tenants. A full run holds its tenant's lock, which is how the
 * sweeper finds it when it stalls; a delta run holds none, so it is registered here when it opens and the sweeper reads
 * this one partition (a Query, not a scan of the runs table). The sweeper itself retires an entry once its run is final
 * (one sweep late at most): the workers and the fetch that finish a run never have to touch it.
 */
export class OpenDeltas {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async add(tenantId: string, runId: string, now: Date): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { tenantId: openDeltasPartition, sk: key(tenantId, runId), runTenantId: tenantId, runId, [runKeys.ttl]: expiresAfter(now, REGISTRY_DAYS) },
      }),
    );
  }

  async list(): Promise<OpenDelta[]> {
    const found: OpenDelta[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'tenantId = :p AND begins_with(sk, :prefix)',
          FilterExpression: 'attribute_not_exists(settled)',
          ProjectionExpression: 'runTenantId, runId',
          ExpressionAttributeValues: { ':p': openDeltasPartition, ':prefix': openDeltaPrefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) found.push({ tenantId: String(item['runTenantId']), runId: String(item['runId']) });
      start = page.LastEvaluatedKey;
    } while (start);
    return found;
  }

  /** The run is final (or gone): its entry is retired and expires now (the product's roles may not delete items). */
  async retire(tenantId: string, runId: string, now: Date): Promise<void> {
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId: openDeltasPartition, sk: key(tenantId, runId) },
        UpdateExpression: `SET settled = :true, ${runKeys.ttl} = :now`,
        ConditionExpression: 'attribute_exists(sk)',
        ExpressionAttributeValues: { ':true': true, ':now': expiresAfter(now, 0) },
      }),
    );
  }
}

function key(tenantId: string, runId: string): string {
  return `${openDeltaPrefix}${tenantId}#${runId}`;
}
