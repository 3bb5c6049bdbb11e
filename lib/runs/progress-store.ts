import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sendConditional } from '../storage/conditional.js';
import { queryByPrefix } from '../storage/query.js';
import { markerSk, progressSk, runKeys, runMarkersPrefix } from '../storage/tables.js';
import { isComplete, toMarker, type MessageMarker } from './marker.js';
import { expiresAfter, MARKER_DAYS, PROGRESS_MARGIN_DAYS } from './retention.js';

/**
 * A run's per-message bookkeeping, in items of its own beside the run record: a marker per processed message
 * (lib/runs/marker.ts) and the progress item, the set of processed message numbers held against the number the fetch
 * sent. Callers reach it through RunStore.
 */
export class RunProgressStore {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    /** How long final runs are kept: markers never outlast it, the progress item outlasts it (lib/runs/retention.ts). */
    private readonly retentionDays: number,
  ) {}

  /**
   * Records a processed message exactly once (the marker's conditional put), then adds its number to the run's set
   * of processed messages. Adding to a set is idempotent, so a redelivery after a crash between the two writes
   * repairs the set instead of counting twice. Answers whether the marker is new and whether the set is complete.
   */
  async recordMessage(tenantId: string, runId: string, marker: MessageMarker): Promise<{ recorded: boolean; complete: boolean }> {
    const recorded = await sendConditional(
      this.db,
      new PutCommand({
        TableName: this.tableName,
        Item: {
          tenantId,
          sk: markerSk(runId, marker.seq),
          runId,
          ...marker,
          [runKeys.ttl]: expiresAfter(new Date(), Math.min(MARKER_DAYS, this.retentionDays)),
        },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    const progress = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: progressSk(runId) },
        // Progress is a message newly recorded (it also pushes the item's expiry on); a redelivery only repairs the set,
        // giving the item an expiry only if the crash it repairs left none, so a whole set changes nothing.
        UpdateExpression: recorded
          ? `ADD seqs :seq SET lastProgressAt = :now, ${runKeys.ttl} = :expires`
          : `ADD seqs :seq SET ${runKeys.ttl} = if_not_exists(${runKeys.ttl}, :expires)`,
        ExpressionAttributeValues: { ':seq': new Set([marker.seq]), ':expires': this.progressExpiry(), ...(recorded ? { ':now': Date.now() } : {}) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { recorded, complete: isComplete(progress.Attributes) };
  }

  /**
   * Gives the set the number of messages the fetch sent, once its run is closed (RunStore.closeFetch). Answers
   * whether every one of them is already processed.
   */
  async setMessagesSent(tenantId: string, runId: string, messagesSent: number): Promise<{ complete: boolean }> {
    const progress = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: progressSk(runId) },
        UpdateExpression: `SET messagesSent = :sent, ${runKeys.ttl} = :expires`,
        ExpressionAttributeValues: { ':sent': messagesSent, ':expires': this.progressExpiry() },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { complete: isComplete(progress.Attributes) };
  }

  async markers(tenantId: string, runId: string): Promise<MessageMarker[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: runMarkersPrefix(runId), consistentRead: true });
    return items.map(toMarker);
  }

  /** Whether any message of the run was processed (its progress item, which outlives the run record, says so). */
  async processedAny(tenantId: string, runId: string): Promise<boolean> {
    const item = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: { tenantId, sk: progressSk(runId) }, ConsistentRead: true }))).Item;
    return item?.['seqs'] instanceof Set && item['seqs'].size > 0;
  }

  /** Whether every message of the run is processed, and when the last one was. */
  async progress(tenantId: string, runId: string): Promise<{ complete: boolean; lastProgressAt: number | undefined }> {
    const item = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: { tenantId, sk: progressSk(runId) }, ConsistentRead: true }))).Item;
    return { complete: isComplete(item), lastProgressAt: typeof item?.['lastProgressAt'] === 'number' ? item['lastProgressAt'] : undefined };
  }

  /** Renewed with every write: the run finishes within hours of its last message, its record expires `retentionDays` later. */
  private progressExpiry(): number {
    return expiresAfter(new Date(), this.retentionDays + PROGRESS_MARGIN_DAYS);
  }
}
