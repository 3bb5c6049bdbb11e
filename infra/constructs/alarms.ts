import { type Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, MathExpression, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  type ChangeSkipReason,
  type FailureReason,
  importMetrics,
  type MetricName,
  metricNames,
  type PauseReason,
  type WebhookRefusalReason,
} from '../../lib/observability/metrics.js';
import type { ProductTable } from './tables.js';

/** The runbook sections of infra/README.md an alarm can point to. */
export const runbookAnchors = [
  'runbook-approving-held-runs',
  'runbook-rotating-credentials',
  'runbook-personio-outage',
  'runbook-stuck-runs',
  'runbook-redriving-the-dlq',
  'runbook-restoring-a-table',
  'runbook-pausing-everything',
  'runbook-erasing-a-tenant',
  'runbook-failing-runs',
  'runbook-function-errors',
  'runbook-throttling',
  'runbook-paused-tenants',
  'runbook-webhooks',
  'runbook-change-events',
] as const;
export type RunbookAnchor = (typeof runbookAnchors)[number];

export const runbookLink = (anchor: RunbookAnchor): string => `infra/README.md#${anchor}`;

/**
 * Who is told. `paging`: the import is broken for many tenants, or not running at all; someone acts now. `tickets`:
 * worth a look in working hours (one tenant's dead letters, throttling, a slow Personio, held runs piling up).
 */
export type Severity = 'paging' | 'tickets';

/** A product metric the functions emit in EMF (`lib/observability/metrics.ts`), for one stage, summed per period. */
export function productMetric(
  stage: string,
  name: MetricName,
  options: { period: Duration; label?: string; reason?: FailureReason | PauseReason | WebhookRefusalReason | ChangeSkipReason },
): Metric {
  return new Metric({
    namespace: importMetrics.namespace,
    metricName: name,
    dimensionsMap: {
      [importMetrics.dimension]: importMetrics.service,
      [importMetrics.stageDimension]: stage,
      ...(options.reason ? { [importMetrics.reasonDimension]: options.reason } : {}),
    },
    statistic: Stats.SUM,
    period: options.period,
    ...(options.label ? { label: options.label } : {}),
  });
}

/** Runs that failed for one reason (`RunsFailedByReason`). */
export const failedRunsFor = (stage: string, reason: FailureReason, period: Duration, label?: string): Metric =>
  productMetric(stage, metricNames.runsFailedByReason, { period, reason, ...(label ? { label } : {}) });

/** Fetches that started nothing because of a pause (`FetchesPaused`), for one reason. */
export const pausedFetchesFor = (stage: string, reason: PauseReason, period: Duration, label?: string): Metric =>
  productMetric(stage, metricNames.fetchesPaused, { period, reason, ...(label ? { label } : {}) });

/**
 * 1 where `part` is both at least `floor` and at least `ratio` of the sum of `whole` (which may include `part`), 0
 * elsewhere: a fleet of 5,000 tenants always has a few failures, so neither a count (always red) nor a share (noisy
 * when there are three runs an hour) alone makes a useful alarm. No division: `part ≥ ratio × whole` cannot divide by
 * zero in an idle period. Missing points count as 0 (FILL), so a period with failures and nothing else still counts.
 */
export function shareAtLeast(
  part: IMetric,
  whole: readonly IMetric[],
  limits: { ratio: number; floor: number; period: Duration; label: string },
): MathExpression {
  const usingMetrics: Record<string, IMetric> = { part };
  const terms = whole.map((metric, i) => {
    if (metric === part) return 'FILL(part, 0)';
    usingMetrics[`whole${i}`] = metric;
    return `FILL(whole${i}, 0)`;
  });
  return new MathExpression({
    expression: `IF(FILL(part, 0) >= ${limits.floor} AND FILL(part, 0) >= ${limits.ratio} * (${terms.join(' + ')}), 1, 0)`,
    usingMetrics,
    period: limits.period,
    label: limits.label,
  });
}

/**
 * New messages in a queue nobody consumes (a dead-letter queue), per period. SQS's NumberOfMessagesSent does not count
 * messages its redrive policy moves into a dead-letter queue, so arrivals are the rise in visible messages; an empty,
 * idle queue reports no data, which counts as 0, so the first arrival after a quiet week is a rise of 1. A redrive
 * or a purge is a fall, never an alarm.
 */
export function arrivals(visible: IMetric, period: Duration, label: string): MathExpression {
  return new MathExpression({ expression: 'DIFF(FILL(visible, 0))', usingMetrics: { visible }, period, label });
}

/** DynamoDB's read and write throttle events on a table and each of its indexes, summed per period. */
export function throttleEvents(table: ProductTable, period: Duration): MathExpression {
  const events = ['', ...table.indexNames].flatMap((index) =>
    ['ReadThrottleEvents', 'WriteThrottleEvents'].map(
      (metricName) =>
        new Metric({
          namespace: 'AWS/DynamoDB',
          metricName,
          dimensionsMap: { TableName: table.table.tableName, ...(index ? { GlobalSecondaryIndexName: index } : {}) },
          statistic: Stats.SUM,
          period,
        }),
    ),
  );
  const usingMetrics = Object.fromEntries(events.map((metric, i) => [`t${i}`, metric]));
  return new MathExpression({
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    period,
    label: `${table.kind} throttle events`,
  });
}

export interface AlarmSpec {
  severity: Severity;
  /** What it means, in a sentence or two; the runbook link is appended. */
  description: string;
  runbook: RunbookAnchor;
  metric: IMetric;
  threshold: number;
  comparison?: ComparisonOperator;
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  /** Default: not breaching (counts of events that did not happen). */
  treatMissingData?: TreatMissingData;
}

/**
 * Creates alarms named `<stage>-<stack name>-<id>` (two stages in one account are told apart in the console and in
 * every notification's subject), each notifying its severity's topic on alarm and on recovery.
 */
export class AlarmSet extends Construct {
  readonly alarms: Alarm[] = [];
  readonly bySeverity: Record<Severity, Alarm[]> = { paging: [], tickets: [] };

  constructor(
    scope: Construct,
    id: string,
    private readonly props: { stage: string; topics: Record<Severity, ITopic> },
  ) {
    super(scope, id);
  }

  add(id: string, spec: AlarmSpec): Alarm {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.props.stage}-${Stack.of(this).stackName}-${id}`,
      alarmDescription: `${spec.description} Runbook: ${runbookLink(spec.runbook)}`,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      ...(spec.datapointsToAlarm ? { datapointsToAlarm: spec.datapointsToAlarm } : {}),
      treatMissingData: spec.treatMissingData ?? TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(this.props.topics[spec.severity]);
    alarm.addAlarmAction(action);
    // Recovery too, so whoever got the ticket or the page sees it end.
    alarm.addOkAction(action);
    this.alarms.push(alarm);
    this.bySeverity[spec.severity].push(alarm);
    return alarm;
  }
}
