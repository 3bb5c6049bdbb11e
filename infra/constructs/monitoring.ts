import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { importMetrics, type MetricName, metricNames } from '../../lib/observability/metrics.js';
import type { ConnectApi } from './api.js';
import type { FunctionName } from './functions.js';
import { MAX_RECEIVE_COUNT } from './import-queue.js';
import type { TenantSchedules } from './schedules.js';
import type { SweepSchedule } from './sweep-schedule.js';

const period = Duration.minutes(5);
/**
 * The import queue's oldest message may be this old before it alarms: a healthy run drains in minutes, and a message
 * that failed once waits one visibility timeout (18 min) before its retry. Older than an hour means the worker cannot
 * keep up, or keeps failing, and the next scheduled run is already queueing behind it.
 */
export const OLDEST_MESSAGE_ALARM = Duration.hours(1);

interface MonitoringProps {
  functions: Record<FunctionName, IFunction>;
  importQueue: IQueue;
  importDeadLetterQueue: IQueue;
  fetchDeadLetterQueue: IQueue;
  api: ConnectApi;
  schedules: TenantSchedules;
  sweepSchedule: SweepSchedule;
}

/** A product metric the functions emit in EMF (see `lib/observability/metrics.ts`), summed per 5 minutes. */
export function productMetric(name: MetricName, label?: string): Metric {
  return new Metric({
    namespace: importMetrics.namespace,
    metricName: name,
    dimensionsMap: { [importMetrics.dimension]: importMetrics.service },
    statistic: Stats.SUM,
    period,
    ...(label ? { label } : {}),
  });
}

/**
 * Alarms (each notifies `alarmTopic`; subscribe your on-call tooling to it) and one dashboard. Every alarm fires on
 * the first bad datapoint and treats missing data as fine: these are counts of rare events.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    // Not encrypted: notifications carry alarm names and metric values, no customer data, and CloudWatch cannot publish
    // to a topic under the AWS-managed SNS key. Publishing requires TLS.
    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'Dado Personio import alarms', enforceSSL: true });

    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarm(`${name}Errors`, `The ${name} function failed (uncaught error or timeout).`, fn.metricErrors({ period, statistic: Stats.SUM }), 1);
      this.alarm(
        `${name}Throttles`,
        `The ${name} function was throttled (account or reserved concurrency exhausted).`,
        fn.metricThrottles({ period, statistic: Stats.SUM }),
        1,
      );
    }
    this.alarm(
      'ImportDeadLetters',
      `Import messages failed ${MAX_RECEIVE_COUNT} times and sit in the dead-letter queue; fix the cause, then redrive.`,
      props.importDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM }),
      1,
    );
    this.alarm(
      'FetchDeadLetters',
      'Fetch invocations (scheduled or "import now") failed all retries; the event is in the fetch dead-letter queue.',
      props.fetchDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM }),
      1,
    );
    this.alarm(
      'ImportQueueAge',
      `The import queue's oldest message is older than ${OLDEST_MESSAGE_ALARM.toHumanString()}.`,
      props.importQueue.metricApproximateAgeOfOldestMessage({ period, statistic: Stats.MAXIMUM }),
      OLDEST_MESSAGE_ALARM.toSeconds(),
    );
    this.alarm(
      'RunsFailed',
      'An import run failed (Personio unreachable, credentials revoked, …); see the run record.',
      productMetric(metricNames.runsFailed),
      1,
    );
    this.alarm(
      'RunsHeld',
      'An import run is held for approval: it would deactivate more users than the threshold allows.',
      productMetric(metricNames.runsHeld),
      1,
    );
    this.alarm(
      'RunsStalled',
      'The sweeper failed an import run whose lease expired (a killed fetch, or a message stuck or in the DLQ); see the run record.',
      productMetric(metricNames.runsStalled),
      1,
    );
    this.alarm(
      'SweepTenantsFailed',
      "The sweeper could not settle a tenant's run (an error; it tries again next sweep); see the sweeper's log.",
      productMetric(metricNames.sweepTenantsFailed),
      1,
    );
    this.alarm(
      'ScheduleInvocationsDropped',
      'EventBridge Scheduler dropped invocations of the fetch (target unreachable or permission denied after retries).',
      props.schedules.group.metricDropped({ period, statistic: Stats.SUM }),
      1,
    );
    this.alarm(
      'SweepInvocationsFailed',
      "EventBridge could not invoke the run sweeper after retries (permission or function missing): stalled runs are not settled until a tenant's next fetch.",
      props.sweepSchedule.metricFailedInvocations({ period }),
      1,
    );
    this.alarm('Api5xx', 'The connect API answered 5xx (connect failed or timed out).', props.api.stage.metricServerError({ period, statistic: Stats.SUM }), 1);

    this.dashboard = this.buildDashboard(props);
  }

  private alarm(id: string, description: string, metric: IMetric, threshold: number): void {
    const alarm = new Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }

  private buildDashboard(props: MonitoringProps): Dashboard {
    const fns = Object.entries(props.functions);
    const perFunction = (pick: (fn: IFunction, name: string) => IMetric) => fns.map(([name, fn]) => pick(fn, name));
    const dashboard = new Dashboard(this, 'Dashboard', { dashboardName: Stack.of(this).stackName, defaultInterval: Duration.days(1) });
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Import throughput (per 5 min)',
        width: 12,
        left: [
          productMetric(metricNames.employeesImported, 'employees imported'),
          productMetric(metricNames.usersCreated, 'users created'),
          productMetric(metricNames.usersUpdated, 'users updated'),
        ],
        right: [
          props.importQueue.metricNumberOfMessagesSent({ period, label: 'messages queued' }),
          props.importQueue.metricNumberOfMessagesDeleted({ period, label: 'messages done' }),
        ],
      }),
      new GraphWidget({
        title: 'Run outcomes (per 5 min)',
        width: 6,
        stacked: true,
        left: [
          productMetric(metricNames.runsCompleted, 'completed'),
          productMetric(metricNames.runsHeld, 'held'),
          productMetric(metricNames.runsFailed, 'failed'),
          productMetric(metricNames.runsStalled, 'failed as stalled (sweeper)'),
          productMetric(metricNames.sweepTenantsFailed, 'tenants the sweeper could not settle'),
        ],
      }),
      new GraphWidget({ title: 'Personio 429s (per 5 min)', width: 6, left: [productMetric(metricNames.personio429, '429 responses')] }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Import queue',
        width: 12,
        left: [
          props.importQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM, label: 'waiting' }),
          props.importQueue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: Stats.MAXIMUM, label: 'in flight' }),
          props.importDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM, label: 'dead letters' }),
          props.fetchDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM, label: 'failed fetches' }),
        ],
        right: [props.importQueue.metricApproximateAgeOfOldestMessage({ period, statistic: Stats.MAXIMUM, label: 'oldest message (s)' })],
      }),
      new GraphWidget({
        title: 'Functions: errors and throttles',
        width: 12,
        left: perFunction((fn, name) => fn.metricErrors({ period, statistic: Stats.SUM, label: `${name} errors` })),
        right: perFunction((fn, name) => fn.metricThrottles({ period, statistic: Stats.SUM, label: `${name} throttles` })),
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Functions: duration p95',
        width: 12,
        left: perFunction((fn, name) => fn.metricDuration({ period, statistic: Stats.p(95), label: name })),
      }),
      new GraphWidget({
        title: 'Functions: concurrency (max)',
        width: 12,
        left: perFunction((fn, name) => fn.metric('ConcurrentExecutions', { period, statistic: Stats.MAXIMUM, label: name })),
      }),
    );
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.alarms }));
    return dashboard;
  }
}
