import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from '../nag.js';

/**
 * A dead-letter queue: TLS only, and the maximum retention (14 days: time to find the cause and redrive). SQS-managed
 * encryption, or `key` for one that holds employee data (it takes its queue's key). Nothing consumes it, so it has no
 * redrive policy of its own; `reason` says why, for cdk-nag.
 */
export function deadLetterQueue(scope: Construct, id: string, noRedrivePolicyReason: string, key?: IKey): Queue {
  const queue = new Queue(scope, id, {
    ...(key ? { encryption: QueueEncryption.KMS, encryptionMasterKey: key } : { encryption: QueueEncryption.SQS_MANAGED }),
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(queue, 'Serverless-SQSRedrivePolicy', noRedrivePolicyReason);
  return queue;
}

/** A log group kept after a teardown like any audit trail; the retention period empties it. */
export function retainedLogGroup(scope: Construct, id: string, retention: RetentionDays): LogGroup {
  return new LogGroup(scope, id, { retention, removalPolicy: RemovalPolicy.RETAIN });
}
