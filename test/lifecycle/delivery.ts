import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';

/**
 * The import queue and its dead-letter queue as the deployed event source mapping uses them, on the simulated clock.
 *
 * The fetch sends to the real (local) queue; `pump()` takes those messages off it into this pool, and from then on
 * delivery is the simulation's: a delivered message is invisible for the queue's visibility timeout; one the worker
 * reported in batchItemFailures (or all of a batch whose invocation threw or was killed) comes back when that timeout
 * ends, or when the worker asked for (ChangeMessageVisibility, answered here: the real message is long gone from
 * SQS); a message received `MAX_RECEIVE_COUNT` times moves to the DLQ on its next receive; a redrive moves the DLQ's
 * messages back with their receive count reset.
 */

/** The deployed queue (infra/constructs/import-queue.ts): 6 × the worker's 3-minute timeout, and 5 receives. */
export const VISIBILITY_TIMEOUT_MS = 18 * 60_000;
export const MAX_RECEIVE_COUNT = 5;
/** Lambda's SQS event source: batches of up to 10, at most 10 concurrent invocations (maxConcurrency). */
export const BATCH_SIZE = 10;
export const MAX_CONCURRENCY = 10;

export interface PoolMessage {
  /** Position in the pool (stable, for naming a message in a sequence). */
  n: number;
  messageId: string;
  body: string;
  tenantId: string;
  runId: string;
  seq: number;
  sentAt: number;
  receiveCount: number;
  firstReceiveAt: number | undefined;
  visibleAt: number;
  /** queued: in the queue (visible or not); dlq: in the dead-letter queue; done: deleted after success. */
  state: 'queued' | 'dlq' | 'done';
  /** The receipt handle of the current receive; a change of visibility names it. */
  receipt: string | undefined;
  /** Receives in which the worker reported it processed (it may be processed more than once). */
  processed: number;
}

export interface PoolStats {
  queued: number;
  visible: number;
  inDlq: number;
  done: number;
  total: number;
}

export class DeliveryPool {
  readonly messages: PoolMessage[] = [];
  /** Visibility changes the worker asked for: [message n, seconds]. */
  readonly visibilityRequests: [number, number][] = [];

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly tenantId: string,
    private readonly receiptPrefix: string,
    private readonly now: () => number,
  ) {}

  /** Takes every message off the real queue; this tenant's join the pool, others' (an earlier sequence's) are dropped. */
  async pump(): Promise<number> {
    let added = 0;
    for (;;) {
      const received = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300, AttributeNames: ['All'] }),
      );
      const batch = received.Messages ?? [];
      if (batch.length === 0) return added;
      await this.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
      );
      for (const m of batch) {
        const head = parseHead(m.Body ?? '');
        if (head.tenantId !== this.tenantId) continue;
        const sentAt = Number(m.Attributes?.['SentTimestamp'] ?? this.now());
        this.messages.push({
          n: this.messages.length,
          messageId: m.MessageId ?? `m${this.messages.length}`,
          body: m.Body ?? '',
          tenantId: head.tenantId,
          runId: head.runId,
          seq: head.seq,
          sentAt,
          receiveCount: 0,
          firstReceiveAt: undefined,
          visibleAt: this.now(),
          state: 'queued',
          receipt: undefined,
          processed: 0,
        });
        added++;
      }
    }
  }

  /**
   * The messages a receive would get now, oldest first. Those already received MAX_RECEIVE_COUNT times move to the
   * DLQ instead, as SQS's redrive policy does on the receive after the last allowed one.
   */
  visible(): PoolMessage[] {
    const now = this.now();
    const out: PoolMessage[] = [];
    for (const m of this.messages) {
      if (m.state !== 'queued' || m.visibleAt > now) continue;
      if (m.receiveCount >= MAX_RECEIVE_COUNT) {
        m.state = 'dlq';
        continue;
      }
      out.push(m);
    }
    return out;
  }

  /** The earliest time a queued message becomes visible (undefined when none is queued). */
  nextVisibleAt(): number | undefined {
    let next: number | undefined;
    for (const m of this.messages) if (m.state === 'queued' && (next === undefined || m.visibleAt < next)) next = m.visibleAt;
    return next;
  }

  /** Receives `batch` for one invocation: counts the receive, hides it for the visibility timeout, answers SQS records' Message form. */
  receive(batch: PoolMessage[]): Message[] {
    const now = this.now();
    return batch.map((m) => {
      m.receiveCount++;
      m.firstReceiveAt ??= now;
      m.visibleAt = now + VISIBILITY_TIMEOUT_MS;
      m.receipt = `${this.receiptPrefix}${m.n}-${m.receiveCount}-${Math.random().toString(36).slice(2, 8)}`;
      return {
        MessageId: m.messageId,
        ReceiptHandle: m.receipt,
        Body: m.body,
        Attributes: {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(m.sentAt),
          ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt),
          SenderId: 'local',
        },
      };
    });
  }

  /**
   * What Lambda's event source does with an invocation's answer: deletes the messages it did not report (all of them
   * for a valid empty answer); a throw, a kill, or an answer naming an id not in the batch fails the whole batch.
   */
  settle(
    batch: PoolMessage[],
    answer: { kind: 'returned'; value: unknown } | { kind: 'threw' } | { kind: 'killed' },
  ): { succeeded: PoolMessage[]; failed: PoolMessage[] } {
    let failedIds: Set<string>;
    if (answer.kind !== 'returned') failedIds = new Set(batch.map((m) => m.messageId));
    else {
      const response = answer.value as Partial<SQSBatchResponse> | undefined | null;
      const items = response?.batchItemFailures ?? [];
      const ids = new Set(batch.map((m) => m.messageId));
      const valid = Array.isArray(items) && items.every((f) => typeof f?.itemIdentifier === 'string' && ids.has(f.itemIdentifier));
      failedIds = valid ? new Set(items.map((f) => f.itemIdentifier)) : ids;
    }
    const succeeded: PoolMessage[] = [];
    const failed: PoolMessage[] = [];
    for (const m of batch) {
      if (failedIds.has(m.messageId)) failed.push(m);
      else {
        succeeded.push(m);
        m.processed++;
        if (m.state === 'queued') m.state = 'done';
      }
    }
    return { succeeded, failed };
  }

  /** Answers ChangeMessageVisibility(Batch) and DeleteMessage(Batch) for receipts this pool handed out. */
  hook(command: { constructor: { name: string }; input: Record<string, unknown> }): unknown {
    const name = command.constructor.name;
    const input = command.input;
    const entries: { Id?: string; ReceiptHandle?: string; VisibilityTimeout?: number }[] = name.includes('Batch')
      ? ((input['Entries'] as never[] | undefined) ?? [])
      : [{ ReceiptHandle: input['ReceiptHandle'] as string, VisibilityTimeout: input['VisibilityTimeout'] as number }];
    if (!entries.every((e) => typeof e.ReceiptHandle === 'string' && e.ReceiptHandle.startsWith(this.receiptPrefix))) return undefined;
    for (const entry of entries) {
      const m = this.messages.find((x) => x.receipt === entry.ReceiptHandle);
      // A receipt of an earlier receive changes nothing (real SQS refuses it); the worker treats it as best effort.
      if (m?.state !== 'queued') continue;
      if (name.startsWith('Delete')) m.state = 'done';
      else {
        const seconds = Math.max(0, Math.min(43_200, Number(entry.VisibilityTimeout ?? 0)));
        m.visibleAt = this.now() + seconds * 1000;
        this.visibilityRequests.push([m.n, seconds]);
      }
    }
    const $metadata = { httpStatusCode: 200, requestId: 'lifecycle-pool', attempts: 1, totalRetryDelay: 0 };
    return name.includes('Batch') ? { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [], $metadata } : { $metadata };
  }

  /** Moves a queued message to the DLQ at once (as five failed receives would). */
  toDlq(m: PoolMessage): void {
    if (m.state === 'queued') m.state = 'dlq';
  }

  /** Moves every DLQ message back to the queue, visible now, its receive count reset (SQS's redrive). */
  redrive(): PoolMessage[] {
    const moved = this.messages.filter((m) => m.state === 'dlq');
    for (const m of moved) {
      m.state = 'queued';
      m.receiveCount = 0;
      m.visibleAt = this.now();
    }
    return moved;
  }

  /** Delivers an already deleted message again (SQS's at-least-once: a duplicate after a delete that raced). */
  ghost(m: PoolMessage): void {
    if (m.state !== 'done') return;
    m.state = 'queued';
    m.visibleAt = this.now();
  }

  stats(): PoolStats {
    const now = this.now();
    const s: PoolStats = { queued: 0, visible: 0, inDlq: 0, done: 0, total: this.messages.length };
    for (const m of this.messages) {
      if (m.state === 'queued') {
        s.queued++;
        if (m.visibleAt <= now) s.visible++;
      } else if (m.state === 'dlq') s.inDlq++;
      else s.done++;
    }
    return s;
  }
}

function parseHead(body: string): { tenantId: string; runId: string; seq: number } {
  try {
    const parsed = JSON.parse(body) as { tenantId?: unknown; runId?: unknown; seq?: unknown };
    return { tenantId: String(parsed.tenantId ?? ''), runId: String(parsed.runId ?? ''), seq: Number(parsed.seq ?? -1) };
  } catch {
    return { tenantId: '', runId: '', seq: -1 };
  }
}
