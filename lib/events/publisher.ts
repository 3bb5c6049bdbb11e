import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBRecord } from 'aws-lambda';
import { sleep as realSleep } from '../util/concurrency.js';
import { errorName } from '../util/errors.js';
import { CHANGE_EVENT_SOURCE, type ChangeEvent, type ChangeRecord, toChangeRecord } from './change.js';
import { runChangeEvent } from './run-changes.js';
import { userChangeEvent } from './user-changes.js';

/**
 * Publishes the change events of a batch of stream records (users and runs tables alike: the item's sort key says
 * which kind it is) to the product's bus, at least once. PutEvents takes ≤ 10 entries and ≤ 256 KB per request and
 * answers per entry; only the entries it refused are sent again, with jittered back-off, a few times within a time
 * budget. Records whose event is still refused are returned, so the handler reports them as batch item failures and
 * Lambda delivers them again (then to the on-failure destination): nothing is lost without a trace. A redelivery
 * publishes the batch's later events again; their idempotency keys let consumers drop the copies.
 */

export interface PublisherDeps {
  eventBridge: Pick<EventBridgeClient, 'send'>;
  eventBusName: string;
  stage: string;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Rounds of sending (the first included). Default 4. */
  maxAttempts?: number;
  /** No re-send starts later than this many ms after the call began (the handler leaves Lambda's timeout room). Default 20 s. */
  budgetMs?: number;
}

export interface PublishOutcome {
  /** Entries EventBridge accepted. */
  published: number;
  /** Entries still refused (or unsent when the budget ran out), and records that could not be read. */
  failed: number;
  /** Records that stand for no event (bookkeeping, link items, markers, other statuses). */
  skipped: number;
  /** Sequence numbers of the records still failing, in the batch's order. */
  failedSequenceNumbers: string[];
  /** Refusals seen, by error code, re-sent ones included (codes only: never an entry's content). */
  errors: Record<string, number>;
}

/** PutEvents' limits per request. */
export const MAX_ENTRIES_PER_REQUEST = 10;
export const MAX_REQUEST_BYTES = 256 * 1024;
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;
/** Per-entry codes a re-send cannot fix: the entry itself is wrong, or the publisher may not publish. */
const permanentCodes = new Set(['MalformedDetail', 'InvalidArgument', 'ValidationException', 'AccessDeniedException', 'NotAuthorizedForSourceException']);

interface Pending {
  sequenceNumber: string;
  entry: PutEventsRequestEntry;
}

export async function publishChanges(deps: PublisherDeps, records: readonly DynamoDBRecord[]): Promise<PublishOutcome> {
  const now = deps.now ?? (() => new Date());
  const outcome: PublishOutcome = { published: 0, failed: 0, skipped: 0, failedSequenceNumbers: [], errors: {} };
  const failedRecords = new Set<string>();
  const count = (code: string) => {
    outcome.errors[code] = (outcome.errors[code] ?? 0) + 1;
  };
  const fail = (sequenceNumber: string) => {
    failedRecords.add(sequenceNumber);
    outcome.failed++;
  };

  let pending: Pending[] = [];
  for (const [i, record] of records.entries()) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? `#${i}`;
    let event: ChangeEvent | undefined;
    try {
      event = changeEventOf(toChangeRecord(record), { stage: deps.stage, now });
    } catch (error) {
      count(errorName(error));
      fail(sequenceNumber);
      continue;
    }
    if (!event) outcome.skipped++;
    else pending.push({ sequenceNumber, entry: toEntry(event, deps.eventBusName) });
  }

  const deadline = Date.now() + (deps.budgetMs ?? 20_000);
  const maxAttempts = deps.maxAttempts ?? 4;
  for (let attempt = 1; pending.length > 0 && attempt <= maxAttempts; attempt++) {
    if (attempt > 1) {
      const delay = Math.round((deps.random ?? Math.random)() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1)));
      if (Date.now() + delay > deadline) break;
      await (deps.sleep ?? realSleep)(delay);
    }
    const refused: { item: Pending; code: string }[] = [];
    for (const chunk of chunks(pending)) {
      for (const result of await sendChunk(deps, chunk)) {
        if (result.code === undefined) outcome.published++;
        else refused.push({ item: result.item, code: result.code });
      }
    }
    pending = [];
    for (const { item, code } of refused) {
      count(code);
      if (permanentCodes.has(code) || attempt === maxAttempts) fail(item.sequenceNumber);
      else pending.push(item);
    }
  }
  // The budget ran out before the last round: what is left counts as failed.
  for (const item of pending) fail(item.sequenceNumber);

  outcome.failedSequenceNumbers = records.map((r, i) => r.dynamodb?.SequenceNumber ?? `#${i}`).filter((s) => failedRecords.has(s));
  return outcome;
}

function changeEventOf(record: ChangeRecord, context: { stage: string; now: () => Date }): ChangeEvent | undefined {
  return userChangeEvent(record, context) ?? runChangeEvent(record, context);
}

export function toEntry(event: ChangeEvent, eventBusName: string): PutEventsRequestEntry {
  return {
    Source: CHANGE_EVENT_SOURCE,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
    EventBusName: eventBusName,
    Time: event.time,
  };
}

/**
 * An entry's size as EventBridge counts it against the 256 KB of a request: the Time field (14 bytes), and the
 * UTF-8 bytes of Source, DetailType, Detail and each resource.
 */
export function entrySize(entry: PutEventsRequestEntry): number {
  const bytes = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  return (
    (entry.Time ? 14 : 0) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail) + (entry.Resources ?? []).reduce((sum, r) => sum + bytes(r), 0)
  );
}

/** Requests of ≤ 10 entries and ≤ 256 KB, in order. */
function chunks(items: readonly Pending[]): Pending[][] {
  const out: Pending[][] = [];
  let current: Pending[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = entrySize(item.entry);
    if (current.length > 0 && (current.length === MAX_ENTRIES_PER_REQUEST || size + itemSize > MAX_REQUEST_BYTES)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** One PutEvents request: each entry's error code, or none when it was accepted. A request that fails outright fails all of its entries. */
async function sendChunk(deps: PublisherDeps, chunk: Pending[]): Promise<{ item: Pending; code: string | undefined }[]> {
  if (chunk.length === 1 && entrySize((chunk[0] as Pending).entry) > MAX_REQUEST_BYTES) return [{ item: chunk[0] as Pending, code: 'EntryTooLarge' }];
  try {
    const response = await deps.eventBridge.send(new PutEventsCommand({ Entries: chunk.map((c) => c.entry) }));
    return chunk.map((item, i) => {
      const answer = response.Entries?.[i];
      return { item, code: answer?.ErrorCode ?? (answer?.EventId ? undefined : 'NoEventId') };
    });
  } catch (error) {
    return chunk.map((item) => ({ item, code: errorName(error) }));
  }
}
