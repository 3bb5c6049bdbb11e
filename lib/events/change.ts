import { createHash } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { CodedError } from '../util/errors.js';

/**
 * What the change events share: their source, the stream record as the detectors read it, and the idempotency key.
 * The events are built from the tables' streams (change data capture), so every write that lands, whoever makes it
 * (worker, fetch, approval, sweeper, delta runs), is published, and each event says what the write did.
 */

/** The `source` of every change event on the product's bus (README: "User change events"). */
export const CHANGE_EVENT_SOURCE = 'dado.personio-import';

export const userDetailTypes = ['User Created', 'User Updated', 'User Deactivated', 'User Reactivated'] as const;
export const runDetailTypes = ['Run Completed', 'Run Held', 'Run Failed'] as const;
export type UserDetailType = (typeof userDetailTypes)[number];
export type RunDetailType = (typeof runDetailTypes)[number];
export type ChangeDetailType = UserDetailType | RunDetailType;

/** A stream record, its images unmarshalled: what the detectors decide on. */
export interface ChangeRecord {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** Unique per stream and stable across redeliveries of the record; orders the shard. */
  sequenceNumber: string;
  /** When the stream recorded the write (DynamoDB's ApproximateCreationDateTime), if it says. */
  recordedAt: Date | undefined;
  keys: { tenantId: string; sk: string };
  oldImage: Image | undefined;
  newImage: Image | undefined;
}

export type Image = Record<string, unknown>;

/** One event to publish: what PutEvents needs besides the source and the bus. */
export interface ChangeEvent {
  detailType: ChangeDetailType;
  detail: { version: 1; idempotencyKey: string; occurredAt: string; stage: string } & Record<string, unknown>;
  time: Date;
}

export class ChangeRecordError extends CodedError<'unreadable_record'> {
  override readonly name = 'ChangeRecordError';
}

/**
 * Numbers as JavaScript numbers where they are exact; beyond 2^53 as their exact text (custom fields may hold such
 * integers as numbers): a change detector compares them, and no value ever leaves it.
 */
const exactNumber = (text: string): number | string => {
  const n = Number(text);
  return Number.isSafeInteger(n) || !/^-?\d+$/.test(text) ? n : text;
};

const unmarshallImage = (image: Record<string, unknown> | undefined): Image | undefined =>
  image === undefined ? undefined : unmarshall(image as Record<string, AttributeValue>, { wrapNumbers: exactNumber });

/** The Lambda-shaped stream record, unmarshalled; a record without the keys and sequence number every table item has is refused. */
export function toChangeRecord(record: DynamoDBRecord): ChangeRecord {
  const stream = record.dynamodb;
  const keys = unmarshallImage(stream?.Keys as Record<string, unknown> | undefined);
  const sequenceNumber = stream?.SequenceNumber;
  const { eventName } = record;
  if (!keys || typeof keys['tenantId'] !== 'string' || typeof keys['sk'] !== 'string' || !sequenceNumber || !eventName)
    throw new ChangeRecordError('unreadable_record', 'The stream record has no tenantId and sk keys, sequence number or event name.');
  const created = stream.ApproximateCreationDateTime;
  return {
    eventName,
    sequenceNumber,
    // Epoch seconds in Lambda's events.
    recordedAt: created === undefined ? undefined : new Date(created * 1000),
    keys: { tenantId: keys['tenantId'], sk: keys['sk'] },
    oldImage: unmarshallImage(stream.OldImage as Record<string, unknown> | undefined),
    newImage: unmarshallImage(stream.NewImage as Record<string, unknown> | undefined),
  };
}

/**
 * The event's idempotency key: a hash of the item's keys and the stream record's sequence number. A redelivered
 * record (Lambda's retries, a bisected batch, a replay from the archive) carries the same sequence number, so the same
 * change always has the same key, and two changes never share one (sequence numbers are unique within a stream).
 * Opaque to consumers: 32 hex digits.
 */
export function idempotencyKey(record: Pick<ChangeRecord, 'keys' | 'sequenceNumber'>): string {
  return createHash('sha256').update(`${record.keys.tenantId}\n${record.keys.sk}\n${record.sequenceNumber}`).digest('hex').slice(0, 32);
}

/** When the change happened: the stream's record time, else now (a record without one, as some local streams give). */
export const occurredAt = (record: Pick<ChangeRecord, 'recordedAt'>, now: () => Date): Date => record.recordedAt ?? now();
