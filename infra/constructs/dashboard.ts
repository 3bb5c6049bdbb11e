import { Duration, Stack } from 'aws-cdk-lib';
import { type Alarm, AlarmStatusWidget, Dashboard, GraphWidget, type IMetric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { changeSkipReasons, failureReasons, metricNames, pauseReasons, webhookRefusalReasons } from '../../lib/observability/metrics.js';
import { failedRunsFor, pausedFetchesFor, productMetric } from './alarms.js';
import type { FunctionName } from './functions.js';

const period = Duration.minutes(5);

export interface DashboardProps {
  stage: string;
  functions: Record<FunctionName, IFunction>;
  importQueue: IQueue;
  importDeadLetterQueue: IQueue;
  fetchDeadLetterQueue: IQueue;
  alarms: readonly Alarm[];
}

/**
 * One dashboard per stack and region, named `<stack name>-<region>`: dashboard names are global to an account, so the
 * same stack name deployed in two regions must not collide. Product metrics are this stage's only.
 */
export function buildDashboard(scope: Construct, id: string, props: DashboardProps): Dashboard {
  const stack = Stack.of(scope);
  const metric = (name: Parameters<typeof productMetric>[1], label: string) => productMetric(props.stage, name, { period, label });
  const fns = Object.entries(props.functions);
  const perFunction = (pick: (fn: IFunction, name: string) => IMetric) => fns.map(([name, fn]) => pick(fn, name));
  const dashboard = new Dashboard(scope, id, { dashboardName: `${stack.stackName}-${stack.region}`, defaultInterval: Duration.days(1) });
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Import throughput (per 5 min)',
      width: 12,
      left: [
        metric(metricNames.employeesImported, 'employees imported'),
        metric(metricNames.usersCreated, 'users created'),
        metric(metricNames.usersUpdated, 'users updated'),
      ],
      right: [metric(metricNames.importMessages, 'messages handled'), metric(metricNames.importMessagesFailed, 'messages failed')],
    }),
    new GraphWidget({
      title: 'Run outcomes (per 5 min)',
      width: 6,
      stacked: true,
      left: [
        metric(metricNames.runsCompleted, 'completed'),
        metric(metricNames.runsHeld, 'held'),
        metric(metricNames.runsFailed, 'failed'),
        metric(metricNames.runsStalled, 'failed as stalled (sweeper)'),
        metric(metricNames.sweepTenantsFailed, 'tenants the sweeper could not settle'),
        metric(metricNames.auditEntriesNotStored, 'audit entries not stored (in the connect log)'),
      ],
    }),
    new GraphWidget({
      title: 'Failed runs by reason (per 5 min)',
      width: 6,
      stacked: true,
      left: failureReasons.map((reason) => failedRunsFor(props.stage, reason, period, reason)),
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Personio requests and 429s (per 5 min)',
      width: 6,
      left: [metric(metricNames.personioRequests, 'requests')],
      right: [metric(metricNames.personio429, '429 responses')],
    }),
    new GraphWidget({
      title: 'Fetches paused, by reason (per 5 min)',
      width: 6,
      left: pauseReasons.map((reason) => pausedFetchesFor(props.stage, reason, period, reason)),
    }),
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
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Change events (per 5 min)',
      width: 12,
      left: [metric(metricNames.changeEventsPublished, 'published')],
      right: [metric(metricNames.changeEventsFailed, 'failed after re-sends')],
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Functions: errors and throttles',
      width: 12,
      left: perFunction((fn, name) => fn.metricErrors({ period, statistic: Stats.SUM, label: `${name} errors` })),
      right: perFunction((fn, name) => fn.metricThrottles({ period, statistic: Stats.SUM, label: `${name} throttles` })),
    }),
    new GraphWidget({
      title: 'Functions: duration p99',
      width: 12,
      left: perFunction((fn, name) => fn.metricDuration({ period, statistic: Stats.p(99), label: name })),
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Personio webhooks (per 5 min)',
      width: 12,
      stacked: true,
      left: [
        metric(metricNames.webhooksAccepted, 'accepted'),
        metric(metricNames.webhooksDuplicate, 'duplicates'),
        metric(metricNames.webhooksIgnored, 'ignored'),
      ],
      right: webhookRefusalReasons.map((reason) => productMetric(props.stage, metricNames.webhooksRefused, { period, reason, label: `refused: ${reason}` })),
    }),
    new GraphWidget({
      title: 'Delta runs: changes refreshed and skipped (per 5 min)',
      width: 12,
      left: [
        metric(metricNames.deltaRuns, 'delta runs'),
        metric(metricNames.changesRefreshed, 'employees refreshed'),
        metric(metricNames.changesDeferred, 'deferred: budget busy'),
      ],
      right: changeSkipReasons.map((reason) => productMetric(props.stage, metricNames.changesSkipped, { period, reason, label: `skipped: ${reason}` })),
    }),
    new GraphWidget({
      // Apart from the full runs' outcomes, which the run alarms read: webhooks alone must not look like imports running.
      title: 'Delta run outcomes (per 5 min)',
      width: 12,
      stacked: true,
      left: [
        metric(metricNames.deltaRunsCompleted, 'completed'),
        metric(metricNames.deltaRunsHeld, 'held (webhook deletions)'),
        metric(metricNames.deltaRunsFailed, 'failed'),
      ],
    }),
    new GraphWidget({
      title: 'Functions: concurrency (max)',
      width: 12,
      left: perFunction((fn, name) => fn.metric('ConcurrentExecutions', { period, statistic: Stats.MAXIMUM, label: name })),
    }),
    new AlarmStatusWidget({ title: 'Alarms', width: 12, height: 8, alarms: [...props.alarms] }),
  );
  return dashboard;
}
