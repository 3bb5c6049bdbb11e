import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
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

/**
 * Buffers packed messages into SendMessageBatch calls (≤ 10 entries, ≤ 1 MiB) and re-sends the
 * entries SQS reports as failed. The SDK itself retries throttling and 5xx of the whole call.
 */
export class QueueSender {
  private pending: PackedMessage[] = [];
  private pendingBytes = 0;
  sent = 0;

  constructor(private readonly options: QueueSenderOptions) {}

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
    for (let attempt = 1; remaining.length > 0; attempt++) {
      const result = await this.options.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: remaining.map((m) => ({ Id: `m${m.seq}`, MessageBody: m.body })),
        }),
      );
      const failed = new Set((result.Failed ?? []).map((f) => f.Id));
      this.sent += remaining.length - failed.size;
      const failures = result.Failed ?? [];
      remaining = remaining.filter((m) => failed.has(`m${m.seq}`));
      if (remaining.length === 0) return;
      const permanent = failures.find((f) => f.SenderFault);
      if (permanent || attempt >= maxAttempts) {
        const f = permanent ?? failures[0];
        throw new QueueError('send_failed', `SQS refused ${remaining.length} message(s): ${f?.Code ?? 'unknown'} ${f?.Message ?? ''}`.trim());
      }
      await sleep(200 * 2 ** (attempt - 1));
    }
  }
}
