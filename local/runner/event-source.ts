import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext, sqsEvent } from './events.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface EventSourceStats {
  invocations: number;
  succeeded: number;
  failed: number;
}

/**
 * Plays Lambda's SQS event source mapping with ReportBatchItemFailures: receives up to 10 messages,
 * invokes the worker with a typed SQS event, deletes only the messages the worker did not report,
 * and lets the reported ones come back (after a short visibility timeout, so local retries are quick;
 * the queue's redrive policy still moves a message that keeps failing to the DLQ).
 */
export class SqsEventSource {
  readonly stats: EventSourceStats = { invocations: 0, succeeded: 0, failed: 0 };
  private running = false;
  private loops: Promise<void>[] = [];
  private error: unknown;

  constructor(
    private readonly options: {
      sqs: SQSClient;
      queueUrl: string;
      handler: SqsHandler;
      concurrency?: number;
      retryVisibilitySeconds?: number;
      functionTimeoutMs?: number;
    },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.options.concurrency ?? 2 }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** An infrastructure error the poller hit (not a worker failure, which SQS retries). */
  get failure(): unknown {
    return this.error;
  }

  /** Messages waiting plus in flight; 0 means the queue is drained. */
  async depth(): Promise<number> {
    const result = await this.options.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.options.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(result.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(result.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const received = await this.options.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: this.options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ['All'] }),
        );
        const messages = received.Messages ?? [];
        if (messages.length > 0) await this.invoke(messages);
      } catch (error) {
        this.error = error;
        this.running = false;
      }
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    this.stats.invocations++;
    let failedIds: Set<string>;
    try {
      const response = await this.options.handler(sqsEvent(messages), lambdaContext('personio-worker', this.options.functionTimeoutMs ?? 120_000));
      failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      // A throwing handler fails the whole batch, as on Lambda.
      failedIds = new Set(messages.map((m) => m.MessageId ?? ''));
    }
    const done = messages.filter((m) => !failedIds.has(m.MessageId ?? ''));
    const failed = messages.filter((m) => failedIds.has(m.MessageId ?? ''));
    this.stats.succeeded += done.length;
    this.stats.failed += failed.length;
    if (done.length > 0) {
      await this.options.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.options.queueUrl, Entries: done.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }),
      );
    }
    if (failed.length > 0) {
      await this.options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: failed.map((m, i) => ({ Id: `f${i}`, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: this.options.retryVisibilitySeconds ?? 1 })),
        }),
      );
    }
  }
}
