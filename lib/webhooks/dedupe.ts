import { createHash } from 'node:crypto';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sendConditional } from '../storage/conditional.js';
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

export interface Dedupe {
  /** Records the change; false when it was recorded already (a retry or a duplicate delivery). */
  claim(key: ChangeKey, now: Date): Promise<boolean>;
  /** Forgets the change, so Personio's retry of a delivery we could not queue is taken. */
  release(key: ChangeKey): Promise<void>;
}

/** The dedupe items live in the runs table (pk tenantId, sk `hook#<digest>`), next to the schedule firings. */
export class DedupeStore implements Dedupe {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async claim(key: ChangeKey, now: Date): Promise<boolean> {
    return sendConditional(
      this.db,
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
        ConditionExpression: 'attribute_not_exists(#sk)',
        ExpressionAttributeNames: { '#sk': runKeys.sort },
      }),
    );
  }

  async release(key: ChangeKey): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: { [runKeys.partition]: key.tenantId, [runKeys.sort]: dedupeSk(key) } }));
  }
}
