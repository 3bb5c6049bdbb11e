import { Duration } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type CfnQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './common.js';
import { deny, exceptFor, exceptForLater } from './fences.js';
import { deadLetterActions, VISIBILITY_TIMEOUT_FACTOR } from './import-queue.js';
import { Keys } from './keys.js';

/**
 * Receives before a change is set aside for the daily reconciliation and the dead-letter alarm. A receive is spent each
 * time the refresh defers a tenant whose Personio budget a full fetch holds (about every 50 s: a 20 s wait, then a 30 s
 * visibility), and a 50,000-employee tenant's fetch holds it for 3-4 minutes: 20 receives ride that out with room,
 * while a refresh that keeps failing (Personio down; 30 minutes between receives) is still set aside within hours.
 */
export const CHANGES_MAX_RECEIVE_COUNT = 20;

interface ChangesQueueProps {
  /** The stage's queue key (`Keys.queue`): messages name tenants and Personio person ids. */
  key: Key;
  /** Operators' roles that redrive the dead-letter queue into the changes queue (and may read and purge it). */
  redriveRoles: readonly string[];
}

/**
 * The changes queue (webhook receiver → refresh) and its dead-letter queue, encrypted with the stage's queue key and
 * fenced like the import queue: only the senders (the webhook function) and the redrive roles may send, no IAM
 * principal may send to the dead-letter queue, and only the redrive roles may receive, delete, purge or move dead
 * letters. The consumer is not part of this construct: the stack attaches it (`attachConsumer`), which also sets the
 * visibility timeout from the consumer's timeout.
 */
export class ChangesQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly key: Key;
  private readonly senders = new Set<IRole>();
  private consumer: IFunction | undefined;

  constructor(scope: Construct, id: string, props: ChangesQueueProps) {
    super(scope, id);
    this.key = props.key;
    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      "This is the changes queue's dead-letter queue: a redrive policy on it would only move failures further out of sight. Redrive it to the changes queue after a fix; the daily reconciliation covers what is left.",
      props.key,
    );
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      // A change is worth nothing after Personio's own 3 days of retries: the daily reconciliation has read it by then.
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: CHANGES_MAX_RECEIVE_COUNT },
    });
    Keys.allowExternalRoles(props.key, 'RedriveRolesMoveChanges', props.redriveRoles, ['kms:GenerateDataKey', 'kms:Decrypt'], 'sqs');
    this.fence(props.redriveRoles);
  }

  /** Lets a role of the stack send to the changes queue: past its policy, and the key's use to encrypt a message. */
  allowSender(role: IRole): void {
    this.senders.add(role);
    Keys.allowRole(this.key, `${role.node.id.replace(/[^A-Za-z0-9]/g, '')}QueuesChanges`, role, ['kms:GenerateDataKey', 'kms:Decrypt'], 'sqs');
  }

  /**
   * The function that consumes the queue (the refresh): a message stays invisible for VISIBILITY_TIMEOUT_FACTOR times
   * its timeout, and its role may decrypt. The stack adds the event source mapping itself (batching, concurrency).
   */
  attachConsumer(consumer: IFunction & { timeout?: Duration }): void {
    if (this.consumer) throw new Error('The changes queue has a consumer already.');
    const timeout = consumer.timeout;
    if (timeout === undefined) throw new Error('The changes consumer needs an explicit timeout: the visibility timeout derives from it.');
    const role = consumer.role;
    if (!role) throw new Error('The changes consumer needs a role: the queue key names it.');
    this.consumer = consumer;
    (this.queue.node.defaultChild as CfnQueue).visibilityTimeout = timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR;
    Keys.allowRole(this.key, 'ConsumerReceivesChanges', role, ['kms:Decrypt'], 'sqs');
  }

  private fence(redriveRoles: readonly string[]): void {
    const { queue, deadLetterQueue } = this;
    const senders = () => [...[...this.senders].map((role) => role.roleArn), ...redriveRoles];
    this.node.addValidation({
      validate: () => (this.senders.size === 0 ? ['Nothing sends to the changes queue: bind a sender (infra/grants.ts bindChangesSender).'] : []),
    });
    queue.addToResourcePolicy(deny('OnlySendersAndRedriveSend', ['sqs:SendMessage'], [queue.queueArn], exceptForLater(senders)));
    // SQS's own move of a failed message carries no principal ARN: only IAM principals are kept out.
    deadLetterQueue.addToResourcePolicy(deny('OnlySqsDeadLetters', ['sqs:SendMessage'], [deadLetterQueue.queueArn], exceptFor([])));
    deadLetterQueue.addToResourcePolicy(deny('OnlyRedriveRolesTouchDeadLetters', deadLetterActions, [deadLetterQueue.queueArn], exceptFor(redriveRoles)));
  }
}
