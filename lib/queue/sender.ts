import { SendMessageBatchCommand, type BatchResultErrorEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { BATCH_MAX_BYTES, BATCH_MAX_ENTRIES } from './message.js';
import type { PackedMessage } from './packer.js';
import { CodedError } from '../util/errors.js';
import { sleep as defaultSleep } from '../util/concurrency.js';

export class QueueError extends CodedError<'send_failed'> {
  override readonly name = 'QueueError';
}

export interface QueueSenderOptions {
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  /** Attempts for entries SQS reports as failed in an otherwise successful batch. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** SQS error codes are short identifiers; anything else is not echoed, since it is text from the wire. */
const ERROR_CODE = /^[A-Za-z0-9.]{1,64}$/;

/**
 * Buffers packed messages into SendMessageBatch calls (≤ 10 entries, ≤ 1 MiB) and re-sends the
 * entries SQS reports as failed. The SDK itself retries throttling and 5xx of the whole call; when it
 * gives up, its error propagates unchanged.
 */
export class QueueSender {
  private pending: PackedMessage[] = [];
  private pendingBytes = 0;
  private landed = 0;

  constructor(private readonly options: QueueSenderOptions) {}

  /** Messages SQS confirmed (each once, however often it was sent): what the workers will receive. */
  get sent(): number {
    return this.landed;
  }

  /** Queues messages; resolves once any full batch they completed has been sent. */
  async add(messages: PackedMessage[]): Promise<void> {
    for (const message of messages) {
      if (this.pending.length === BATCH_MAX_ENTRIES || this.pendingBytes + message.bytes > BATCH_MAX_BYTES) {
        await this.sendPending();
      }
      this.pending.push(message);
      this.pendingBytes += message.bytes;
    }
    if (this.pending.length === BATCH_MAX_ENTRIES) await this.sendPending();
  }

  async flush(): Promise<void> {
    await this.sendPending();
  }

  private async sendPending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length > 0) await this.sendBatch(batch);
  }

  private async sendBatch(batch: PackedMessage[]): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    const sleep = this.options.sleep ?? defaultSleep;
    let remaining = batch;
    for (let attempt = 1; ; attempt++) {
      const byId = new Map(remaining.map((m) => [`m${m.seq}`, m]));
      const result = await this.options.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: [...byId].map(([Id, m]) => ({ Id, MessageBody: m.body })),
        }),
      );
      // Counted from what SQS confirmed, each entry once: neither Failed ids outside this batch nor an
      // entry reported in neither list can inflate `sent`.
      const confirmed = new Set((result.Successful ?? []).map((s) => s.Id).filter((id): id is string => id !== undefined && byId.has(id)));
      this.landed += confirmed.size;
      // An entry SQS did not confirm is re-sent: a duplicate is harmless (the worker is idempotent per run and seq), a loss is not.
      remaining = remaining.filter((m) => !confirmed.has(`m${m.seq}`));
      if (remaining.length === 0) return;
      const failures = (result.Failed ?? []).filter((f) => f.Id !== undefined && byId.has(f.Id) && !confirmed.has(f.Id));
      const permanent = failures.find((f) => f.SenderFault);
      if (permanent || attempt >= maxAttempts) {
        throw new QueueError('send_failed', refusal(remaining.length, attempt, permanent ?? failures[0]));
      }
      await sleep(200 * 2 ** (attempt - 1));
    }
  }
}

/** Names the count, the attempts and SQS's code; never SQS's message, which may quote the body. */
function refusal(count: number, attempts: number, failure: BatchResultErrorEntry | undefined): string {
  const code = failure?.Code && ERROR_CODE.test(failure.Code) ? failure.Code : 'unknown';
  const reason = failure?.SenderFault ? 'a sender fault' : `${attempts} attempt(s)`;
  return `SQS refused ${count} message(s) after ${reason}: ${code}.`;
}
