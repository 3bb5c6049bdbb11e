import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.js';
import { deadLetterQueue } from './common.js';

/** Receives before a message is set aside: enough for a throttled table or a concurrent run to clear. */
export const MAX_RECEIVE_COUNT = 5;
/** AWS's guidance: at least six times the function timeout, so retries after throttling fit in one visibility. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * The worker's event source settings, with the reasons:
 * - batchSize 10 (≈ 1,000 employees): big enough to amortize an invocation, small enough that one batch stays far
 *   inside the worker's timeout and Lambda's 6 MB payload limit (messages are ≤ 128 KiB).
 * - maxBatchingWindow 2 s: the fetch sends in bursts of 10; waiting 2 s fills batches at the start and the end of a
 *   run instead of invoking for one message. Latency is irrelevant for an hourly import.
 * - maxConcurrency 10: all of a tenant's users share one partition key, and a partition takes ~1,000 write units/s;
 *   10 workers writing one item at a time reach roughly that, so a big first import is throttled by the SDK's retries rather
 *   than by failed messages. It also caps the worker's share of the account's concurrency.
 */
export const workerEventSource = { batchSize: 10, maxBatchingWindow: Duration.seconds(2), maxConcurrency: 10 } as const;

interface ImportQueueProps {
  /** The worker; its timeout sets the visibility timeout. */
  worker: IFunction & { timeout?: Duration };
}

/** The import queue (fetch → worker), its dead-letter queue, and the worker's event source mapping. */
export class ImportQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ImportQueueProps) {
    super(scope, id);
    const workerTimeout = props.worker.timeout;
    if (workerTimeout === undefined) throw new Error('The worker needs an explicit timeout: the visibility timeout derives from it.');

    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      "This is the import queue's dead-letter queue: a redrive policy on it would only move failures further out of sight. Its depth is alarmed; redrive it to the import queue after a fix.",
    );
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(workerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    props.worker.addEventSource(new SqsEventSource(this.queue, { ...workerEventSource, reportBatchItemFailures: true }));
    acknowledge(
      props.worker,
      'Serverless-LambdaEventSourceMappingDestination',
      "SQS event source mappings do not support on-failure destinations; failed messages go to the dead-letter queue through the import queue's redrive policy.",
    );
  }
}
