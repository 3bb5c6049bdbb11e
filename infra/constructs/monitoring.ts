import { Duration } from 'aws-cdk-lib';
import { ComparisonOperator, type Dashboard, MathExpression, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { metricNames } from '../../lib/observability/metrics.js';
import { type AlarmDestination, AlarmTopics } from './alarm-topics.js';
import { AlarmSet, arrivals, failedRunsFor, pausedFetchesFor, productMetric, type RunbookAnchor, shareAtLeast, throttleEvents } from './alarms.js';
import type { ConnectApi } from './api.js';
import type { WebhookApi } from './webhook-api.js';
import { CHANGES_MAX_RECEIVE_COUNT } from './changes-queue.js';
import { buildDashboard } from './dashboard.js';
import type { FunctionName } from './functions.js';
import { MAX_RECEIVE_COUNT } from './import-queue.js';
import type { TenantSchedules } from './schedules.js';
import type { SweepSchedule } from './sweep-schedule.js';
import type { ProductTable } from './tables.js';

/**
 * The import queue's oldest message may be this old before it alarms: a healthy run drains in minutes, and a message
 * that failed once waits one visibility timeout (18 min) before its retry. Older than an hour means the worker cannot
 * keep up, or keeps failing, and the next scheduled run is already queueing behind it.
 */
export const OLDEST_MESSAGE_ALARM = Duration.hours(1);
/** A dead letter older than this has waited a working day for a decision (redrive or purge); SQS drops it at 14 days. */
export const DEAD_LETTER_AGE_ALARM = Duration.days(1);
/** No run completed for this long while tenants are scheduled hourly: the import is not running at all. */
export const HEARTBEAT_WINDOW_HOURS = 3;
/** Share of a function's timeout its p99 duration may reach before it alarms: the slowest calls are about to time out. */
export const DURATION_ALARM_SHARE = 0.8;
/** Share of Personio requests answered 429 over an hour that opens a ticket (the client backs off and retries them). */
export const PERSONIO_429_RATE = 0.05;
/** DynamoDB throttle events on one table (and its indexes) in 15 minutes: a few are retried away, a sustained stream is a hot partition. */
export const TABLE_THROTTLE_EVENTS = 10;

/** Runs and Personio are judged per hour (a schedule's cycle); function and message failures per 15 minutes (a bad deploy). */
const hour = Duration.hours(1);
const quarter = Duration.minutes(15);
const fiveMinutes = Duration.minutes(5);
const percent = (share: number) => `${Number((share * 100).toFixed(2))} %`;
/** Where a function that nears its timeout is usually slowed down: Personio (fetch, connect), a large tenant's finalization (worker, sweeper). */
const nearTimeoutRunbooks: Record<FunctionName, RunbookAnchor> = {
  connect: 'runbook-personio-outage',
  // The receiver calls no Personio: a slow one waits on DynamoDB or SQS.
  webhook: 'runbook-function-errors',
  fetch: 'runbook-personio-outage',
  refresh: 'runbook-personio-outage',
  worker: 'runbook-function-errors',
  publisher: 'runbook-function-errors',
  sweeper: 'runbook-stuck-runs',
};

export interface MonitoringProps {
  stage: string;
  paging: AlarmDestination;
  tickets: AlarmDestination;
  /** Failure alarms: the share of runs (messages, invocations, requests) failing, and the least count, both needed. */
  failureRatio: number;
  failureFloor: number;
  functions: Record<FunctionName, IFunction & { readonly timeout?: Duration | undefined }>;
  importQueue: IQueue;
  importDeadLetterQueue: IQueue;
  fetchDeadLetterQueue: IQueue;
  /** Changes the refresh failed on (Personio down for longer than the queue's retries). */
  changesDeadLetterQueue: IQueue;
  tables: readonly ProductTable[];
  api: ConnectApi;
  webhookApi: WebhookApi;
  schedules: TenantSchedules;
  sweepSchedule: SweepSchedule;
}

/**
 * The stage's alarms, in two severities (paging, tickets; see `AlarmTopics`), and one dashboard. Built for a fleet:
 * failures alarm as a share with a floor, never on the first one, so a few tenants failing every hour (revoked
 * credentials, a Personio blip) neither keep an alarm red nor hide the next incident; a heartbeat alarms when nothing
 * completes at all. Every product metric is read for this stage only.
 */
export class Monitoring extends Construct {
  readonly topics: AlarmTopics;
  readonly alarmSet: AlarmSet;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topics = new AlarmTopics(this, 'Topics', { paging: props.paging, tickets: props.tickets });
    this.alarmSet = new AlarmSet(this, 'Alarms', { stage: props.stage, topics: this.topics.all });
    this.runAlarms(props);
    this.functionAlarms(props);
    this.queueAlarms(props);
    this.platformAlarms(props);
    this.dashboard = buildDashboard(this, 'Dashboard', { ...props, alarms: this.alarmSet.alarms });
  }

  get pagingTopic(): ITopic {
    return this.topics.paging;
  }

  get ticketsTopic(): ITopic {
    return this.topics.tickets;
  }

  private runAlarms({ stage, failureRatio: ratio, failureFloor: floor }: MonitoringProps): void {
    const completed = productMetric(stage, metricNames.runsCompleted, { period: hour });
    const failed = productMetric(stage, metricNames.runsFailed, { period: hour });
    const held = productMetric(stage, metricNames.runsHeld, { period: hour });
    const all = [completed, failed, held];
    const add = this.alarmSet.add.bind(this.alarmSet);
    add('RunsFailing', {
      severity: 'paging',
      description: `At least ${percent(ratio)} of the full import runs of the last hour failed, and at least ${floor} of them: a systemic cause (Personio, our code, AWS), not one tenant. The failed runs' records and the RunsFailedByReason graph say why.`,
      runbook: 'runbook-failing-runs',
      metric: shareAtLeast(failed, all, { ratio, floor, period: hour, label: 'failed runs (share and floor reached)' }),
      threshold: 1,
    });
    add('CredentialsRefused', {
      severity: 'paging',
      description: `Personio refused the credentials (401) of at least ${percent(ratio)} of the last hour's runs, and of at least ${floor}: more likely Personio's incident than customers revoking keys. Tenants are paused after repeated refusals, so act before they all are.`,
      runbook: 'runbook-rotating-credentials',
      metric: shareAtLeast(failedRunsFor(stage, 'invalid_credentials', hour), all, { ratio, floor, period: hour, label: '401 runs (share and floor reached)' }),
      threshold: 1,
    });
    // Any completed run, full or delta, shows the import path alive. With webhooks, a tenant's full run is daily: a
    // heartbeat on full runs alone would page a stage whose few tenants reconcile more than 3 hours apart. Full runs
    // failing are RunsFailing's (a share of full runs only); schedules that stop firing, ScheduleInvocationsDropped's.
    add('NoRunsCompleted', {
      severity: 'paging',
      description: `No import run (full or delta) completed in ${HEARTBEAT_WINDOW_HOURS} hours: schedules gone, the fetch and the refresh not running, every run failing or stuck, or metrics not arriving. Missing data counts as breaching. Fetches an operator paused count as alive, so pausing the stage does not page.`,
      runbook: 'runbook-failing-runs',
      metric: new MathExpression({
        expression: 'FILL(completed, 0) + FILL(deltaCompleted, 0) + FILL(paused, 0)',
        usingMetrics: {
          completed,
          deltaCompleted: productMetric(stage, metricNames.deltaRunsCompleted, { period: hour }),
          paused: pausedFetchesFor(stage, 'imports_paused', hour),
        },
        period: hour,
        label: 'runs completed, or fetches paused by the operator',
      }),
      threshold: 1,
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: HEARTBEAT_WINDOW_HOURS,
      datapointsToAlarm: HEARTBEAT_WINDOW_HOURS,
      treatMissingData: TreatMissingData.BREACHING,
    });
    add('RunsHeld', {
      severity: 'tickets',
      description: `At least ${percent(ratio)} of the last hour's runs, and at least ${floor}, were held for approval (they would deactivate more users than the threshold allows). One held run is its customer's decision; many at once suggest Personio returned partial lists or a mapping broke.`,
      runbook: 'runbook-approving-held-runs',
      metric: shareAtLeast(held, all, { ratio, floor, period: hour, label: 'held runs (share and floor reached)' }),
      threshold: 1,
    });
    // Delta runs (webhooks) count apart, so the alarms above judge full reconciliations only: a ticket, since the daily
    // reconciliation still catches every change a failing delta run misses.
    const deltaFailed = productMetric(stage, metricNames.deltaRunsFailed, { period: hour });
    const deltaRuns = [
      productMetric(stage, metricNames.deltaRunsCompleted, { period: hour }),
      deltaFailed,
      productMetric(stage, metricNames.deltaRunsHeld, { period: hour }),
    ];
    add('DeltaRunsFailing', {
      severity: 'tickets',
      description: `At least ${percent(ratio)} of the last hour's delta runs (Personio webhook changes), and at least ${floor}, failed: changes reach Dado only with the next full reconciliation until it is fixed. The refresh's log says why.`,
      runbook: 'runbook-webhooks',
      metric: shareAtLeast(deltaFailed, deltaRuns, { ratio, floor, period: hour, label: 'failed delta runs (share and floor reached)' }),
      threshold: 1,
    });
    add('RunsStalled', {
      severity: 'tickets',
      description: `The sweeper failed at least ${floor} runs in the last hour whose lease expired (a killed fetch, messages stuck or dead-lettered).`,
      runbook: 'runbook-stuck-runs',
      metric: productMetric(stage, metricNames.runsStalled, { period: hour }),
      threshold: floor,
    });
    add('AuditEntriesNotStored', {
      severity: 'tickets',
      description:
        "Changes made through the API could not be recorded in the audit trail (the changes succeeded); each entry is in connect's log: restore it from there.",
      runbook: 'runbook-function-errors',
      metric: productMetric(stage, metricNames.auditEntriesNotStored, { period: hour }),
      threshold: 1,
    });
    add('SweepTenantsFailed', {
      severity: 'tickets',
      description: `The sweeper could not settle tenants' runs at least ${floor} times in the last hour (it retries every sweep); see its log for the tenants and errors.`,
      runbook: 'runbook-stuck-runs',
      metric: productMetric(stage, metricNames.sweepTenantsFailed, { period: hour }),
      threshold: floor,
    });
    add('Personio429Rate', {
      severity: 'tickets',
      description: `At least ${percent(PERSONIO_429_RATE)} of the last hour's Personio requests, and at least ${floor}, were answered 429: imports slow down and may run out of time. Too many large tenants at once, or Personio lowered its limits.`,
      runbook: 'runbook-personio-outage',
      metric: shareAtLeast(
        productMetric(stage, metricNames.personio429, { period: hour }),
        [productMetric(stage, metricNames.personioRequests, { period: hour })],
        {
          ratio: PERSONIO_429_RATE,
          floor,
          period: hour,
          label: '429 responses (rate and floor reached)',
        },
      ),
      threshold: 1,
    });
    const messages = productMetric(stage, metricNames.importMessages, { period: quarter });
    add('ImportMessagesFailing', {
      severity: 'paging',
      description: `The worker failed at least ${percent(ratio)} of the import messages of the last 15 minutes, and at least ${floor}: they are retried, then dead-lettered (${MAX_RECEIVE_COUNT} receives), and their runs stall. Lambda's Errors does not count these.`,
      runbook: 'runbook-function-errors',
      metric: shareAtLeast(productMetric(stage, metricNames.importMessagesFailed, { period: quarter }), [messages], {
        ratio,
        floor,
        period: quarter,
        label: 'failed messages (share and floor reached)',
      }),
      threshold: 1,
    });
  }

  private functionAlarms({ functions, failureRatio: ratio, failureFloor: floor }: MonitoringProps): void {
    for (const [name, fn] of Object.entries(functions)) {
      const invocations = fn.metricInvocations({ period: quarter, statistic: Stats.SUM });
      const throttles = fn.metricThrottles({ period: quarter, statistic: Stats.SUM });
      // The sweeper runs at most three times in 15 minutes: the stage's floor would let it fail every time unseen.
      const errorFloor = name === 'sweeper' ? 1 : floor;
      this.alarmSet.add(`${name}Errors`, {
        severity: 'paging',
        description: `At least ${percent(ratio)} of the ${name} function's invocations of the last 15 minutes, and at least ${errorFloor}, failed (uncaught error or timeout).`,
        runbook: 'runbook-function-errors',
        metric: shareAtLeast(fn.metricErrors({ period: quarter, statistic: Stats.SUM }), [invocations], {
          ratio,
          floor: errorFloor,
          period: quarter,
          label: `${name} errors`,
        }),
        threshold: 1,
      });
      this.alarmSet.add(`${name}Throttles`, {
        severity: 'tickets',
        description: `At least ${percent(ratio)} of the ${name} function's invocations of the last 15 minutes, and at least ${floor}, were throttled (reserved or account concurrency exhausted); Lambda and SQS retry them, late.`,
        runbook: 'runbook-throttling',
        metric: shareAtLeast(throttles, [invocations, throttles], { ratio, floor, period: quarter, label: `${name} throttles` }),
        threshold: 1,
      });
      if (fn.timeout === undefined) continue;
      const limit = fn.timeout.toMilliseconds() * DURATION_ALARM_SHARE;
      this.alarmSet.add(`${name}NearTimeout`, {
        severity: 'tickets',
        description: `The ${name} function's p99 duration over the last hour reached ${percent(DURATION_ALARM_SHARE)} of its ${fn.timeout.toHumanString()} timeout: its slowest calls are about to time out (a slow Personio, 429 backoff, a tenant grown large).`,
        runbook: nearTimeoutRunbooks[name as FunctionName],
        metric: fn.metricDuration({ period: hour, statistic: Stats.p(99) }),
        threshold: limit,
      });
    }
  }

  private queueAlarms({ importQueue, importDeadLetterQueue, fetchDeadLetterQueue, changesDeadLetterQueue }: MonitoringProps): void {
    const deadLetterQueues = [
      [
        'Import',
        importDeadLetterQueue,
        `Import messages failed ${MAX_RECEIVE_COUNT} times and were set aside in the import dead-letter queue; their runs stall.`,
      ],
      [
        'Fetch',
        fetchDeadLetterQueue,
        'Fetch invocations (a schedule or "import now") failed all of Lambda\'s retries and were set aside in the fetch dead-letter queue.',
      ],
      [
        'Changes',
        changesDeadLetterQueue,
        `Webhook changes the refresh failed on ${CHANGES_MAX_RECEIVE_COUNT} times (Personio down, or a tenant's credential refused) were set aside in the changes dead-letter queue: those employees wait for the tenant's daily reconciliation, or a redrive.`,
      ],
    ] as const;
    for (const [name, queue, what] of deadLetterQueues) {
      const visible = queue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: Stats.MAXIMUM });
      this.alarmSet.add(`${name}DeadLetters`, {
        severity: 'tickets',
        description: `${what} This alarm is for new arrivals (it clears by itself); the age alarm keeps the ones waiting in view.`,
        runbook: 'runbook-redriving-the-dlq',
        metric: arrivals(visible, fiveMinutes, `new ${name.toLowerCase()} dead letters`),
        threshold: 1,
        // Two periods, so the newest point's rise is measured from the one before it.
        evaluationPeriods: 2,
        datapointsToAlarm: 1,
      });
      this.alarmSet.add(`${name}DeadLetterAge`, {
        severity: 'tickets',
        description: `A message has waited in the ${name.toLowerCase()} dead-letter queue for over ${DEAD_LETTER_AGE_ALARM.toHumanString()}: redrive or purge it (SQS deletes it at 14 days).`,
        runbook: 'runbook-redriving-the-dlq',
        metric: queue.metricApproximateAgeOfOldestMessage({ period: hour, statistic: Stats.MAXIMUM }),
        threshold: DEAD_LETTER_AGE_ALARM.toSeconds(),
      });
    }
    this.alarmSet.add('ImportQueueAge', {
      severity: 'tickets',
      description: `The import queue's oldest message is older than ${OLDEST_MESSAGE_ALARM.toHumanString()}: the worker cannot keep up (throttled, capped) or keeps failing; runs will stall.`,
      runbook: 'runbook-stuck-runs',
      metric: importQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: Stats.MAXIMUM }),
      threshold: OLDEST_MESSAGE_ALARM.toSeconds(),
    });
  }

  private platformAlarms({ tables, api, webhookApi, schedules, sweepSchedule, failureRatio: ratio, failureFloor: floor }: MonitoringProps): void {
    for (const table of tables) {
      const { kind } = table;
      this.alarmSet.add(`${kind.charAt(0).toUpperCase()}${kind.slice(1)}TableThrottled`, {
        severity: 'tickets',
        description: `DynamoDB throttled at least ${TABLE_THROTTLE_EVENTS} reads or writes on the ${kind} table or its indexes in 15 minutes (a hot partition: a large first import, too many workers on one tenant). The SDK retries; a message that runs out of retries fails and is retried later.`,
        runbook: 'runbook-throttling',
        metric: throttleEvents(table, quarter),
        threshold: TABLE_THROTTLE_EVENTS,
      });
    }
    this.alarmSet.add('Api5xx', {
      severity: 'paging',
      description: `At least ${percent(ratio)} of the connect API's requests of the last 15 minutes, and at least ${floor}, were answered 5xx (connect failed or timed out): Dado's settings page is broken for its admins.`,
      runbook: 'runbook-function-errors',
      metric: shareAtLeast(
        api.stage.metricServerError({ period: quarter, statistic: Stats.SUM }),
        [api.stage.metricCount({ period: quarter, statistic: Stats.SUM })],
        {
          ratio,
          floor,
          period: quarter,
          label: '5xx answers (share and floor reached)',
        },
      ),
      threshold: 1,
    });
    this.alarmSet.add('Webhook5xx', {
      severity: 'tickets',
      description: `At least ${percent(ratio)} of Personio's webhook deliveries of the last 15 minutes, and at least ${floor}, were answered 5xx (the receiver could not queue them, or failed): Personio retries them for days, but changes reach Dado late until it is fixed.`,
      runbook: 'runbook-webhooks',
      metric: shareAtLeast(
        webhookApi.stage.metricServerError({ period: quarter, statistic: Stats.SUM }),
        [webhookApi.stage.metricCount({ period: quarter, statistic: Stats.SUM })],
        { ratio, floor, period: quarter, label: 'webhook 5xx answers (share and floor reached)' },
      ),
      threshold: 1,
    });
    this.alarmSet.add('ScheduleInvocationsDropped', {
      severity: 'tickets',
      description:
        "EventBridge Scheduler dropped invocations of the fetch after its retries (target missing or not permitted): those tenants' imports did not start. Many at once also stops runs completing (the heartbeat pages).",
      runbook: 'runbook-failing-runs',
      metric: schedules.group.metricDropped({ period: hour, statistic: Stats.SUM }),
      threshold: 1,
    });
    this.alarmSet.add('SweepInvocationsFailed', {
      severity: 'tickets',
      description:
        "EventBridge could not invoke the run sweeper after retries (permission or function missing): stalled runs are not settled until a tenant's next fetch.",
      runbook: 'runbook-stuck-runs',
      metric: sweepSchedule.metricFailedInvocations({ period: hour }),
      threshold: 1,
    });
  }
}
