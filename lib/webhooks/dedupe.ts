import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { hookSk, runKeys } from '../storage/tables.js';

/**
 * How long a change is remembered: Personio's webhook reference says retries last up to 3 days, one of its changelog
 * entries says 6 (docs/personio-webhooks.md), so a retry always finds the item of its first attempt within 7 days. A
 * duplicate let through after that is harmless (the refresh re-reads Personio); the table's TTL removes the item.
 */
export const DEDUPE_TTL_SECONDS = 7 * 24 * 3600;

/** What identifies one change: Personio's deliveries carry no event id, and a retry resends the same body. */
export interface ChangeKey {
  tenantId: string;
  event: string;
  personId: number;
  /** As delivered (not re-formatted): two changes of one person differ here, down to the precision Personio sends. */
  occurredAt: string;
}

export function dedupeSk(key: Pick<ChangeKey, 'event' | 'personId' | 'occurredAt'>): string {
  return hookSk(createHash('sha256').update(`${key.event}|${key.personId}|${key.occurredAt}`, 'utf8').digest('hex'));
}

/**
 * A change is recorded only after it was queued, so no failure between the two can lose it: a Lambda stopped after the
 * send leaves no item, and Personio's retry is queued again (one harmless re-read by the refresh). The price: two
 * deliveries of one change that arrive together may both be queued, which is as harmless.
 */
export interface Dedupe {
  /** Whether the change was queued already (a retry or a duplicate delivery): a strongly consistent read. */
  seen(key: ChangeKey): Promise<boolean>;
  /** Remembers the queued change for the dedupe window (unconditional: a second record only renews it). */
  record(key: ChangeKey, now: Date): Promise<void>;
}

/** The dedupe items live in the runs table (pk tenantId, sk `hook#<digest>`), next to the schedule firings. */
export class DedupeStore implements Dedupe {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async seen(key: ChangeKey): Promise<boolean> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [runKeys.partition]: key.tenantId, [runKeys.sort]: dedupeSk(key) },
        ConsistentRead: true,
        ProjectionExpression: '#sk',
        ExpressionAttributeNames: { '#sk': runKeys.sort },
      }),
    );
    return Item !== undefined;
  }

  async record(key: ChangeKey, now: Date): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [runKeys.partition]: key.tenantId,
          [runKeys.sort]: dedupeSk(key),
          event: key.event,
          personId: key.personId,
          occurredAt: key.occurredAt,
          receivedAt: now.toISOString(),
          [runKeys.ttl]: Math.floor(now.getTime() / 1000) + DEDUPE_TTL_SECONDS,
        },
      }),
    );
  }
}
