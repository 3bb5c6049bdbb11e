import { Duration, Stack } from 'aws-cdk-lib';
import { Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { type Archive, EventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, FilterRule, type Function as LambdaFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { envNames } from '../../lib/config.js';
import { acknowledge } from '../nag.js';
import { metricNames } from '../../lib/observability/metrics.js';
import { runPrefix, userPrefix } from '../../lib/storage/tables.js';
import { type AlarmSet, arrivals, productMetric } from './alarms.js';
import { deadLetterQueue } from './common.js';
import type { ProductTable } from './tables.js';

/** Days the archive keeps every event of the bus, for a replay to a consumer that missed some. */
export const DEFAULT_ARCHIVE_RETENTION_DAYS = 30;

/**
 * The publisher's stream event sources, with the reasons:
 * - startingPosition TRIM_HORIZON: a new mapping starts at the oldest record the stream still has (24 h), so writes
 *   made between enabling the stream and creating the mapping are published too;
 * - batchSize 100, maxBatchingWindow 1 s: one PutEvents per 10 events, and a change still reaches the bus within
 *   seconds (the webhook bench's target is 10 s from delivery to event);
 * - reportBatchItemFailures: the publisher reports the first record still refused after its own re-sends; Lambda
 *   retries from there, so the records before it are not published again;
 * - bisectBatchOnError: a batch that keeps failing is split, so one bad record holds back as few others as possible;
 * - retryAttempts 100, maxRecordAge 1 day: about an hour of a failing bus (an attempt takes up to ~30 s) is ridden
 *   out, and no record waits past the stream's own retention (24 h); then the batch's description (shard and sequence
 *   numbers) goes to the dead-letter queue, which alarms, and the shard moves on.
 */
export const publisherEventSource = {
  startingPosition: StartingPosition.TRIM_HORIZON,
  batchSize: 100,
  maxBatchingWindow: Duration.seconds(1),
  reportBatchItemFailures: true,
  bisectBatchOnError: true,
  retryAttempts: 100,
  maxRecordAge: Duration.days(1),
} as const;

interface ChangeEventsProps {
  /** The publisher function (functions/publisher.ts). */
  publisher: LambdaFunction;
  users: ProductTable;
  runs: ProductTable;
  archiveRetentionDays?: number;
}

/**
 * User change events out: the product's event bus, an archive of everything published to it, and the publisher fed by
 * the users and runs tables' streams (change data capture: no writer can forget to publish, and each event is what
 * landed). The publisher may put events on this bus only, and read the two streams; its event source mappings send
 * what they give up on to a dead-letter queue (stream coordinates only, no data: SQS-managed encryption).
 */
export class ChangeEvents extends Construct {
  readonly bus: EventBus;
  readonly archive: Archive;
  /** The event source mappings' on-failure destination: batches of stream records given up on after the retries. */
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ChangeEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.bus = new EventBus(this, 'Bus', {
      // Consumers' rules and other accounts' policies name the bus: a name that follows the stack, not the construct tree.
      eventBusName: `${stack.stackName}-events`,
      description: 'Dado × Personio: user created/updated/deactivated/reactivated and run completed/held/failed (source dado.personio-import)',
    });
    this.archive = this.bus.archive('Archive', {
      description: 'Every change event of the bus, for replay',
      // Everything put on the bus comes from this account.
      eventPattern: { account: [stack.account] },
      retention: Duration.days(props.archiveRetentionDays ?? DEFAULT_ARCHIVE_RETENTION_DAYS),
    });
    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      "This queue is the publisher's on-failure destination (stream batch coordinates); nothing consumes it, so a redrive policy would never apply. Its arrivals are alarmed.",
    );

    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      "This queue is itself a dead-letter queue: the on-failure destination of the publisher's stream event source mappings, which cdk-nag does not recognize as one. Its arrivals are alarmed.",
    );

    const { publisher } = props;
    // As infra/grants.ts does for every binding: the permission and the variable naming its resource, together.
    publisher.addToRolePolicy(new PolicyStatement({ actions: ['events:PutEvents'], resources: [this.bus.eventBusArn] }));
    publisher.addEnvironment(envNames.eventBusName, this.bus.eventBusName);

    const onFailure = new SqsDlq(this.deadLetterQueue);
    // Only the items that can be events invoke the publisher: user records (not Personio link items) and run records
    // taking a final status (not markers, progress, pending lists or firings, nor a run's intermediate states).
    const written = FilterRule.or('INSERT', 'MODIFY');
    publisher.addEventSource(
      new DynamoEventSource(props.users.table, {
        ...publisherEventSource,
        onFailure,
        filters: [FilterCriteria.filter({ eventName: written, dynamodb: { Keys: { sk: { S: FilterRule.beginsWith(userPrefix) } } } })],
      }),
    );
    publisher.addEventSource(
      new DynamoEventSource(props.runs.table, {
        ...publisherEventSource,
        onFailure,
        filters: [
          FilterCriteria.filter({
            eventName: written,
            dynamodb: { Keys: { sk: { S: FilterRule.beginsWith(runPrefix) } }, NewImage: { status: { S: FilterRule.or('completed', 'held', 'failed') } } },
          }),
        ],
      }),
    );
  }

  /** Tickets when events could not be published: refused after the re-sends, or given up on (dead letters). */
  addAlarms(alarmSet: AlarmSet, stage: string): void {
    const quarter = Duration.minutes(15);
    const fiveMinutes = Duration.minutes(5);
    alarmSet.add('ChangeEventsFailed', {
      severity: 'tickets',
      description:
        "The publisher could not put change events on the bus after its re-sends (EventBridge refused or was unreachable); Lambda retries their stream records, and gives them up to the publisher's dead-letter queue after its retries. Consumers see the changes late.",
      runbook: 'runbook-change-events',
      metric: productMetric(stage, metricNames.changeEventsFailed, { period: quarter }),
      threshold: 1,
    });
    const visible = this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: Stats.MAXIMUM });
    alarmSet.add('ChangeEventDeadLetters', {
      severity: 'tickets',
      description:
        "Stream records were given up on after the publisher's retries: their changes were never published. Each dead letter names the stream shard and sequence numbers; re-publish those users' and runs' changes from the tables.",
      runbook: 'runbook-change-events',
      metric: arrivals(visible, fiveMinutes, 'new change event dead letters'),
      threshold: 1,
      evaluationPeriods: 2,
      datapointsToAlarm: 1,
    });
  }
}
