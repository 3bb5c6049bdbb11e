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
      /** Messages per invocation, up to Lambda's 10,000 (default 10: one receive). */
      batchSize?: number;
      /** Lambda's MaximumBatchingWindowInSeconds, in ms: keep receiving until the batch is full or this has passed. */
      batchWindowMs?: number;
      functionName?: string;
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
        const messages = await this.receiveBatch();
        if (messages.length > 0) await this.invoke(messages);
      } catch (error) {
        this.error = error;
        this.running = false;
      }
    }
  }

  /** One receive, or (with a batching window) receives until the batch is full or the window since the first message has passed. */
  private async receiveBatch(): Promise<Message[]> {
    const batchSize = this.options.batchSize ?? 10;
    const windowMs = this.options.batchWindowMs ?? 0;
    const messages: Message[] = [];
    let windowEnds: number | undefined;
    while (this.running && messages.length < batchSize) {
      const left = windowEnds === undefined ? 1_000 : windowEnds - Date.now();
      if (left <= 0) break;
      const received = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
          WaitTimeSeconds: windowEnds === undefined ? 1 : 0,
          AttributeNames: ['All'],
        }),
      );
      const got = received.Messages ?? [];
      messages.push(...got);
      if (windowMs === 0 && (got.length > 0 || windowEnds === undefined)) break;
      if (got.length > 0) windowEnds ??= Date.now() + windowMs;
      else if (windowEnds === undefined) break;
      else {
        const wait = Math.min(50, Math.max(0, windowEnds - Date.now()));
        await new Promise<void>((resolve) => setTimeout(resolve, wait));
      }
    }
    return messages;
  }

  private async invoke(messages: Message[]): Promise<void> {
    this.stats.invocations++;
    let failedIds: Set<string>;
    try {
      const response = await this.options.handler(
        sqsEvent(messages),
        lambdaContext(this.options.functionName ?? 'personio-worker', this.options.functionTimeoutMs ?? 120_000),
      );
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
