import { Duration } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction, IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.js';
import { deadLetterQueue } from './common.js';
import { Keys } from './keys.js';
import { deny, exceptFor, exceptForLater } from './fences.js';

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

/**
 * The event source may ask for up to `maxConcurrency` workers at once; a worker reservation below that throttles the
 * mapping's own invocations (the messages come back after the visibility timeout with their receive count raised, and
 * dead-letter after MAX_RECEIVE_COUNT), and no reservation at all lets other functions of the account starve it.
 */
function checkWorkerReservation(worker: IFunction): void {
  const reserved = (worker.node.defaultChild as CfnFunction | undefined)?.reservedConcurrentExecutions;
  if (reserved === undefined || reserved < workerEventSource.maxConcurrency)
    throw new Error(
      `The worker's reserved concurrency (${reserved ?? 'none'}) must be at least its event source's maxConcurrency (${workerEventSource.maxConcurrency}): ` +
        'raise reservedConcurrency.worker for the stage in cdk.json, or lower workerEventSource.maxConcurrency in infra/constructs/import-queue.ts.',
    );
}

interface ImportQueueProps {
  /** The worker; its timeout sets the visibility timeout. */
  worker: IFunction & { timeout?: Duration };
  /** The key both queues are encrypted with (`Keys.queue`): the messages are whole employee records. */
  key: Key;
  /** Operators' roles that redrive the dead-letter queue into the import queue (and may read and purge it). */
  redriveRoles: readonly string[];
}

/** What a redrive does on the dead-letter queue (StartMessageMoveTask runs as its caller), and reading dead letters. */
export const deadLetterActions = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:PurgeQueue',
  'sqs:StartMessageMoveTask',
  'sqs:CancelMessageMoveTask',
] as const;

/**
 * The import queue (fetch → worker), its dead-letter queue, and the worker's event source mapping. Both queues are
 * encrypted with the stage's queue key, which only the senders (the fetch), the worker and the redrive roles may use,
 * so nobody else can read a message even with `sqs:*`. The queue policies fence the write paths: only the senders and
 * the redrive roles may send to the import queue (the worker upserts whatever a well-formed message says), no IAM
 * principal may send to the dead-letter queue (SQS moves failed messages there itself), and only the redrive roles may
 * receive, delete, purge or move dead letters.
 */
export class ImportQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly key: Key;
  private readonly senders = new Set<IRole>();

  constructor(scope: Construct, id: string, props: ImportQueueProps) {
    super(scope, id);
    const workerTimeout = props.worker.timeout;
    if (workerTimeout === undefined) throw new Error('The worker needs an explicit timeout: the visibility timeout derives from it.');
    checkWorkerReservation(props.worker);
    this.key = props.key;

    // It holds employee records, so it takes the queue key, not SQS's own.
    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      "This is the import queue's dead-letter queue: a redrive policy on it would only move failures further out of sight. Its depth is alarmed; redrive it to the import queue after a fix.",
      props.key,
    );
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
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
    // The event source mapping receives with the worker's role: it decrypts every message.
    const workerRole = props.worker.role;
    if (!workerRole) throw new Error('The worker needs a role: the queue key names it.');
    Keys.allowRole(props.key, 'WorkerReceivesImports', workerRole, ['kms:Decrypt'], 'sqs');
    Keys.allowExternalRoles(props.key, 'RedriveRolesMoveImports', props.redriveRoles, ['kms:GenerateDataKey', 'kms:Decrypt'], 'sqs');
    this.fence(props.redriveRoles);
  }

  /** Lets a role of the stack send to the import queue: past its policy, and the key's use to encrypt a message. */
  allowSender(role: IRole): void {
    this.senders.add(role);
    Keys.allowRole(this.key, `${role.node.id.replace(/[^A-Za-z0-9]/g, '')}QueuesImports`, role, ['kms:GenerateDataKey', 'kms:Decrypt'], 'sqs');
  }

  private fence(redriveRoles: readonly string[]): void {
    const { queue, deadLetterQueue } = this;
    const senders = () => [...[...this.senders].map((role) => role.roleArn), ...redriveRoles];
    this.node.addValidation({
      validate: () => (this.senders.size === 0 ? ['Nothing sends to the import queue: bind a sender (infra/grants.ts bindQueueSender).'] : []),
    });
    queue.addToResourcePolicy(deny('OnlySendersAndRedriveSend', ['sqs:SendMessage'], [queue.queueArn], exceptForLater(senders)));
    // SQS's own move of a failed message carries no principal ARN: only IAM principals are kept out.
    deadLetterQueue.addToResourcePolicy(deny('OnlySqsDeadLetters', ['sqs:SendMessage'], [deadLetterQueue.queueArn], exceptFor([])));
    deadLetterQueue.addToResourcePolicy(deny('OnlyRedriveRolesTouchDeadLetters', deadLetterActions, [deadLetterQueue.queueArn], exceptFor(redriveRoles)));
  }
}
