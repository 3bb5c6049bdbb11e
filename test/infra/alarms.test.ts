import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig, type DeploymentConfig } from '../../infra/config.js';
import { runbookAnchors } from '../../infra/constructs/alarms.js';
import { functionSettings } from '../../infra/constructs/functions.js';
import { PersonioImportStack } from '../../infra/stack.js';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Resource = { Type: string; Properties: Record<string, Json> };
interface MetricStat {
  Metric: { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: Json }[] };
  Period: number;
  Stat: string;
}
interface AlarmMetric {
  Id: string;
  Expression?: string;
  MetricStat?: MetricStat;
}
interface AlarmProps {
  AlarmName: string;
  AlarmDescription: string;
  AlarmActions: Json[];
  OKActions: Json[];
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData: string;
  Metrics?: AlarmMetric[];
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: Json }[];
  Period?: number;
  Statistic?: string;
  ExtendedStatistic?: string;
}

const baseContext = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const pagerArn = 'arn:aws:sns:eu-west-1:333333333333:oncall-pager';

/** The context with one more stage, selected: its own alarm destinations, ratio and floor. */
function contextWithStage(stage: string, block: Record<string, unknown>): Record<string, unknown> {
  return { ...baseContext, 'dado:stage': stage, 'dado:stages': { ...(baseContext['dado:stages'] as object), [stage]: block } };
}

interface Synthesized {
  config: DeploymentConfig;
  stack: PersonioImportStack;
  resources: Record<string, Resource>;
  /** The alarm whose name ends in `-<id>`. */
  alarm(id: string): AlarmProps;
  alarms(): AlarmProps[];
  lid(construct: IConstruct): string;
}

function synthesize(context: Record<string, unknown>): Synthesized {
  const config = parseDeploymentConfig(context);
  const app = new App({ context });
  const stack = new PersonioImportStack(app, config.stackName, { config, env: config.env });
  const resources = Template.fromStack(stack).toJSON()['Resources'] as Record<string, Resource>;
  const alarms = () => Object.values(resources).flatMap((r) => (r.Type === 'AWS::CloudWatch::Alarm' ? [r.Properties as unknown as AlarmProps] : []));
  return {
    config,
    stack,
    resources,
    alarms,
    alarm: (id) => {
      const found = alarms().filter((a) => a.AlarmName.endsWith(`-${id}`));
      expect(found.map((a) => a.AlarmName)).toEqual([`${config.stage}-${config.stackName}-${id}`]);
      return found[0]!;
    },
    lid: (construct) => stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string,
  };
}

/**
 * Evaluates an alarm's metric math for one period, the way CloudWatch does for the operators these alarms use (IF,
 * AND, FILL with 0, >=, *, +), given each metric's value (absent = no data). Anything else is refused, so an alarm that
 * starts using another function fails here instead of being guessed at.
 */
function evaluate(expression: string, values: Record<string, number | undefined>): number {
  const js = expression
    .replace(/FILL\((\w+), 0\)/g, (_, id: string) => `(v[${JSON.stringify(id)}] ?? 0)`)
    .replace(/\bAND\b/g, '&&')
    .replace(/\bIF\(/g, 'iff(');
  const rest = js.replace(/v\["\w+"\]/g, '').replace(/iff\(/g, '(');
  if (!/^[\d\s.()+*>=&?,]*$/.test(rest)) throw new Error(`cannot evaluate ${expression}`);
  const iff = (condition: boolean, yes: number, no: number) => (condition ? yes : no);
  return new Function('v', 'iff', `return ${js};`)(values, iff) as number;
}

/** The metric math of an alarm, with the metrics it reads by id. */
function mathOf(alarm: AlarmProps): { expression: string; metrics: Record<string, MetricStat> } {
  const returned = alarm.Metrics!.filter((m) => m.Expression !== undefined);
  expect(returned).toHaveLength(1);
  const metrics = Object.fromEntries(alarm.Metrics!.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat!]));
  return { expression: returned[0]!.Expression!, metrics };
}

/** The ids in an alarm's math of the metrics with these names. */
function idsOf(math: ReturnType<typeof mathOf>, name: string): string[] {
  return Object.entries(math.metrics)
    .filter(([, m]) => m.Metric.MetricName === name)
    .map(([id]) => id);
}

const productDimensions = (stage: string, extra: Record<string, string> = {}) =>
  Object.entries({ [importMetrics.dimension]: importMetrics.service, [importMetrics.stageDimension]: stage, ...extra })
    .map(([Name, Value]) => ({ Name, Value }))
    .sort((a, b) => a.Name.localeCompare(b.Name));
const sorted = (dimensions: { Name: string; Value: Json }[] = []) => [...dimensions].sort((a, b) => a.Name.localeCompare(b.Name));

describe('alarms for a fleet (a stage with its own destinations, ratio 0.2 and floor 7)', () => {
  let s: Synthesized;
  let tickets: Json;

  beforeAll(() => {
    // Prepare: a stage that pages through an existing topic and opens tickets by e-mail
    s = synthesize(
      contextWithStage('ops', {
        account: '333333333333',
        region: 'eu-west-1',
        stackName: 'DadoPersonioImport-ops',
        paging: { topicArn: pagerArn },
        tickets: { email: 'tickets@example.com' },
        allowedCallers: ['arn:aws:iam::333333333333:role/dado-backend-ops'],
        failureRatio: 0.2,
        failureFloor: 7,
      }),
    );
    tickets = { Ref: s.lid(s.stack.monitoring.ticketsTopic) };
  });

  /** Per-run counts for one hour: does the alarm's math say 1 (alarm)? */
  const runsAlarm = (id: string, partName: string, counts: { part: number; completed: number; held?: number; failed?: number }) => {
    const math = mathOf(s.alarm(id));
    const values: Record<string, number> = {};
    for (const [name, value] of [
      [partName, counts.part],
      [metricNames.runsCompleted, counts.completed],
      [metricNames.runsHeld, counts.held ?? 0],
      [metricNames.runsFailed, counts.failed ?? counts.part],
    ] as const)
      for (const metricId of idsOf(math, name)) values[metricId] ??= value;
    return evaluate(math.expression, values);
  };

  it('pages through the existing topic the stage names, and creates only the tickets topic, subscribing its e-mail address', () => {
    // Assess
    const topics = Object.entries(s.resources).filter(([, r]) => r.Type === 'AWS::SNS::Topic');
    expect(topics.map(([id]) => id)).toEqual([s.lid(s.stack.monitoring.ticketsTopic)]);
    const subscriptions = Object.values(s.resources).filter((r) => r.Type === 'AWS::SNS::Subscription');
    expect(subscriptions.map((r) => r.Properties)).toEqual([{ Protocol: 'email', Endpoint: 'tickets@example.com', TopicArn: tickets }]);
    expect(s.stack.monitoring.pagingTopic.topicArn).toBe(pagerArn);
  });

  it('notifies exactly one topic per alarm, on alarm and on recovery, named with the stage', () => {
    // Assess
    for (const alarm of s.alarms()) {
      expect(alarm.AlarmName).toMatch(/^ops-DadoPersonioImport-ops-\w+$/);
      expect([[pagerArn], [tickets]], alarm.AlarmName).toContainEqual(alarm.AlarmActions);
      expect(alarm.OKActions, alarm.AlarmName).toEqual(alarm.AlarmActions);
    }
  });

  it('links a runbook section of infra/README.md from every alarm description', () => {
    // Assess
    for (const alarm of s.alarms()) {
      const links = [...alarm.AlarmDescription.matchAll(/infra\/README\.md#(runbook-[a-z-]+)/g)].map((m) => m[1]);
      expect(links.length, alarm.AlarmName).toBeGreaterThan(0);
      for (const anchor of links) expect(runbookAnchors, alarm.AlarmName).toContain(anchor);
    }
  });

  it('reads every product metric of this stage only', () => {
    // Prepare
    const product = s
      .alarms()
      .flatMap((a) => [
        ...(a.Namespace === importMetrics.namespace ? [{ Metric: { Dimensions: a.Dimensions } }] : []),
        ...(a.Metrics ?? []).flatMap((m) => (m.MetricStat?.Metric.Namespace === importMetrics.namespace ? [m.MetricStat] : [])),
      ]);

    // Assess
    expect(product.length).toBeGreaterThan(10);
    for (const metric of product) expect(sorted(metric.Metric.Dimensions)).toContainEqual({ Name: importMetrics.stageDimension, Value: 'ops' });
  });

  it('pages when failed runs are at least the share AND at least the floor of an hour’s runs', () => {
    // Prepare
    const alarm = s.alarm('RunsFailing');
    const math = mathOf(alarm);

    // Assess: the hour, the topic, the metrics of this stage
    expect(alarm.AlarmActions).toEqual([pagerArn]);
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    for (const metric of Object.values(math.metrics)) {
      expect(metric).toMatchObject({ Period: 3600, Stat: 'Sum' });
      expect(sorted(metric.Metric.Dimensions)).toEqual(productDimensions('ops'));
    }
    // Assess: share and floor, both needed
    expect(runsAlarm('RunsFailing', metricNames.runsFailed, { part: 7, completed: 28 })).toBe(1); // 7 of 35 = 20 %
    expect(runsAlarm('RunsFailing', metricNames.runsFailed, { part: 7, completed: 100 })).toBe(0); // a fleet's background
    expect(runsAlarm('RunsFailing', metricNames.runsFailed, { part: 6, completed: 0 })).toBe(0); // under the floor
    expect(runsAlarm('RunsFailing', metricNames.runsFailed, { part: 0, completed: 0 })).toBe(0); // an idle hour
  });

  it('pages on systemic Personio 401s: runs failing with invalid_credentials, as a share with a floor', () => {
    // Prepare
    const alarm = s.alarm('CredentialsRefused');
    const math = mathOf(alarm);
    const [reasonId] = idsOf(math, metricNames.runsFailedByReason);

    // Assess
    expect(alarm.AlarmActions).toEqual([pagerArn]);
    expect(sorted(math.metrics[reasonId!]!.Metric.Dimensions)).toEqual(productDimensions('ops', { reason: 'invalid_credentials' }));
    expect(runsAlarm('CredentialsRefused', metricNames.runsFailedByReason, { part: 40, completed: 60 })).toBe(1);
    expect(runsAlarm('CredentialsRefused', metricNames.runsFailedByReason, { part: 8, completed: 500 })).toBe(0);
    expect(runsAlarm('CredentialsRefused', metricNames.runsFailedByReason, { part: 3, completed: 0 })).toBe(0);
  });

  it('pages when no run, full or delta, completed for 3 hours, missing data included (the heartbeat), unless an operator paused the stage', () => {
    // Prepare
    const alarm = s.alarm('NoRunsCompleted');
    const math = mathOf(alarm);
    const [completed] = idsOf(math, metricNames.runsCompleted);
    const [deltaCompleted] = idsOf(math, metricNames.deltaRunsCompleted);
    const [paused] = idsOf(math, metricNames.fetchesPaused);
    const breaches = (values: Record<string, number>) => evaluate(math.expression, values) < alarm.Threshold;

    // Assess
    expect(alarm).toMatchObject({
      AlarmActions: [pagerArn],
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
    });
    expect(math.metrics[completed!]).toMatchObject({ Period: 3600, Stat: 'Sum' });
    expect(sorted(math.metrics[completed!]!.Metric.Dimensions)).toEqual(productDimensions('ops'));
    expect(sorted(math.metrics[paused!]!.Metric.Dimensions)).toEqual(productDimensions('ops', { reason: 'imports_paused' }));
    expect(breaches({})).toBe(true);
    expect(breaches({ [completed!]: 1 })).toBe(false);
    // A stage whose tenants reconcile daily is alive when webhooks keep delta runs completing.
    expect(breaches({ [deltaCompleted!]: 1 })).toBe(false);
    expect(breaches({ [paused!]: 4 })).toBe(false);
  });

  it('opens a ticket, never a page, when many runs are held for approval (a customer decision)', () => {
    // Prepare
    const alarm = s.alarm('RunsHeld');

    // Assess
    expect(alarm.AlarmActions).toEqual([tickets]);
    expect(runsAlarm('RunsHeld', metricNames.runsHeld, { part: 7, held: 7, failed: 0, completed: 10 })).toBe(1);
    expect(runsAlarm('RunsHeld', metricNames.runsHeld, { part: 1, held: 1, failed: 0, completed: 0 })).toBe(0);
    // Held runs only ever appear in a paging alarm's denominator (runs of the hour), never as what it counts
    for (const paging of s.alarms().filter((a) => JSON.stringify(a.AlarmActions) === JSON.stringify([pagerArn]))) {
      expect(paging.MetricName, paging.AlarmName).not.toBe(metricNames.runsHeld);
      const part = paging.Metrics?.find((m) => m.Id === 'part');
      expect(part?.MetricStat?.Metric.MetricName, paging.AlarmName).not.toBe(metricNames.runsHeld);
    }
  });

  it('judges full reconciliations only: the run alarms read no delta run metric, so webhooks neither dilute nor hide failing full runs', () => {
    // Prepare
    const deltaNames: string[] = [metricNames.deltaRuns, metricNames.deltaRunsCompleted, metricNames.deltaRunsFailed, metricNames.deltaRunsHeld];

    // Assess: no delta metric read by any of them
    for (const id of ['RunsFailing', 'CredentialsRefused', 'RunsHeld']) {
      const names = Object.values(mathOf(s.alarm(id)).metrics).map((m) => m.Metric.MetricName);
      expect(names, id).toContain(metricNames.runsCompleted);
      for (const name of deltaNames) expect(names, id).not.toContain(name);
    }
    // Assess: 7 full runs failing of 35 pages, however many delta runs completed that hour
    expect(runsAlarm('RunsFailing', metricNames.runsFailed, { part: 7, completed: 28 })).toBe(1);
  });

  it('opens a ticket, never a page, when delta runs fail as a share with the floor, linking the webhooks runbook', () => {
    // Prepare
    const alarm = s.alarm('DeltaRunsFailing');
    const math = mathOf(alarm);
    const deltaAlarm = (failed: number, completed: number, held = 0) => {
      const values: Record<string, number> = {};
      for (const [name, value] of [
        [metricNames.deltaRunsFailed, failed],
        [metricNames.deltaRunsCompleted, completed],
        [metricNames.deltaRunsHeld, held],
      ] as const)
        for (const id of idsOf(math, name)) values[id] = value;
      return evaluate(math.expression, values);
    };

    // Assess
    expect(alarm.AlarmActions).toEqual([tickets]);
    expect(alarm.AlarmDescription).toContain('infra/README.md#runbook-webhooks');
    expect(new Set(Object.values(math.metrics).map((m) => m.Metric.MetricName))).toEqual(
      new Set([metricNames.deltaRunsFailed, metricNames.deltaRunsCompleted, metricNames.deltaRunsHeld]),
    );
    for (const metric of Object.values(math.metrics)) expect(metric).toMatchObject({ Period: 3600, Stat: 'Sum' });
    expect(deltaAlarm(7, 28)).toBe(1); // 7 of 35 = 20 %
    expect(deltaAlarm(7, 100, 5)).toBe(0); // a fleet's background
    expect(deltaAlarm(6, 0)).toBe(0); // under the floor
    expect(deltaAlarm(0, 0)).toBe(0); // an idle hour
  });

  it('opens a ticket on a 429 rate (429s / requests ≥ 5 %) with the floor, and on stalled runs from the floor', () => {
    // Prepare
    const rate = s.alarm('Personio429Rate');
    const math = mathOf(rate);
    const values = (r429: number, requests: number) => ({
      [idsOf(math, metricNames.personio429)[0]!]: r429,
      [idsOf(math, metricNames.personioRequests)[0]!]: requests,
    });

    // Assess
    expect(rate.AlarmActions).toEqual([tickets]);
    expect(evaluate(math.expression, values(10, 200))).toBe(1);
    expect(evaluate(math.expression, values(10, 1000))).toBe(0);
    expect(evaluate(math.expression, values(6, 6))).toBe(0);
    expect(s.alarm('RunsStalled')).toMatchObject({ AlarmActions: [tickets], MetricName: metricNames.runsStalled, Threshold: 7, Period: 3600 });
  });

  it('opens a ticket on the first audit entry connect could not store (the change happened; its record is in the log)', () => {
    // Assess
    expect(s.alarm('AuditEntriesNotStored')).toMatchObject({
      AlarmActions: [tickets],
      MetricName: metricNames.auditEntriesNotStored,
      Threshold: 1,
      Period: 3600,
    });
  });

  it('pages when the worker fails a share of its messages (batch item failures, which Lambda’s Errors never counts)', () => {
    // Prepare
    const alarm = s.alarm('ImportMessagesFailing');
    const math = mathOf(alarm);
    const values = (failed: number, handled: number) => ({
      [idsOf(math, metricNames.importMessagesFailed)[0]!]: failed,
      [idsOf(math, metricNames.importMessages)[0]!]: handled,
    });

    // Assess
    expect(alarm.AlarmActions).toEqual([pagerArn]);
    expect(Object.values(math.metrics).every((m) => m.Period === 900)).toBe(true);
    expect(evaluate(math.expression, values(20, 50))).toBe(1);
    expect(evaluate(math.expression, values(20, 1000))).toBe(0);
    expect(evaluate(math.expression, values(6, 6))).toBe(0);
  });

  it('pages on function errors and opens tickets on throttles, both as shares of invocations with the floor', () => {
    for (const name of ['connect', 'fetch', 'worker', 'sweeper'] as const) {
      // Prepare
      const errors = mathOf(s.alarm(`${name}Errors`));
      const throttles = mathOf(s.alarm(`${name}Throttles`));
      const fn = { Ref: s.lid(s.stack.functions[name]) };

      // Assess
      expect(s.alarm(`${name}Errors`).AlarmActions, name).toEqual([pagerArn]);
      expect(s.alarm(`${name}Throttles`).AlarmActions, name).toEqual([tickets]);
      for (const m of [...Object.values(errors.metrics), ...Object.values(throttles.metrics)])
        expect(m.Metric.Dimensions, name).toEqual([{ Name: 'FunctionName', Value: fn }]);
      const [e] = idsOf(errors, 'Errors');
      const [i] = idsOf(errors, 'Invocations');
      expect(evaluate(errors.expression, { [e!]: 7, [i!]: 30 }), name).toBe(1);
      expect(evaluate(errors.expression, { [e!]: 7, [i!]: 1000 }), name).toBe(0);
      // Below the stage's floor the fleet's functions stay quiet; the sweeper runs at most three times in 15 minutes,
      // so its floor is one failed sweep.
      expect(evaluate(errors.expression, { [e!]: 1, [i!]: 1 }), name).toBe(name === 'sweeper' ? 1 : 0);
    }
  });

  it('opens a ticket when a function’s p99 duration reaches 80 % of its timeout', () => {
    for (const name of ['fetch', 'worker'] as const) {
      // Assess
      expect(s.alarm(`${name}NearTimeout`), name).toMatchObject({
        AlarmActions: [tickets],
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: functionSettings[name].timeout.toMilliseconds() * 0.8,
      });
    }
    expect(s.alarm('fetchNearTimeout').Threshold).toBe(720_000);
  });

  it('pages on API 5xx as a share of requests with the floor', () => {
    // Prepare
    const alarm = s.alarm('Api5xx');
    const math = mathOf(alarm);
    const [errors] = idsOf(math, '5xx');
    const [count] = idsOf(math, 'Count');

    // Assess
    expect(alarm.AlarmActions).toEqual([pagerArn]);
    expect(evaluate(math.expression, { [errors!]: 7, [count!]: 20 })).toBe(1);
    expect(evaluate(math.expression, { [errors!]: 2, [count!]: 2 })).toBe(0);
  });

  it('opens a ticket on webhook deliveries answered 5xx, as a share of deliveries with the floor (Personio retries them)', () => {
    // Prepare
    const alarm = s.alarm('Webhook5xx');
    const math = mathOf(alarm);
    const [errors] = idsOf(math, '5xx');
    const [count] = idsOf(math, 'Count');
    const apis = new Set(Object.values(math.metrics).map((m) => JSON.stringify(m.Metric.Dimensions)));

    // Assess
    expect(alarm.AlarmActions).toEqual([tickets]);
    expect(apis).toEqual(
      new Set([
        JSON.stringify([
          { Name: 'ApiId', Value: { Ref: s.lid(s.stack.webhookApi.api) } },
          { Name: 'Stage', Value: '$default' },
        ]),
      ]),
    );
    expect(evaluate(math.expression, { [errors!]: 7, [count!]: 20 })).toBe(1);
    expect(evaluate(math.expression, { [errors!]: 2, [count!]: 2 })).toBe(0);
  });

  it('opens a ticket on DynamoDB throttling of each table and its indexes', () => {
    for (const { kind, table, indexNames } of s.stack.tables.all) {
      // Prepare
      const id = `${kind.charAt(0).toUpperCase()}${kind.slice(1)}TableThrottled`;
      const alarm = s.alarm(id);
      const math = mathOf(alarm);
      const read = Object.values(math.metrics).map((m) => `${m.Metric.MetricName} ${JSON.stringify(sorted(m.Metric.Dimensions))}`);
      const tableName = { Ref: s.lid(table) };
      const expected = ['', ...indexNames].flatMap((index) =>
        ['ReadThrottleEvents', 'WriteThrottleEvents'].map(
          (name) =>
            `${name} ${JSON.stringify(sorted([{ Name: 'TableName', Value: tableName }, ...(index ? [{ Name: 'GlobalSecondaryIndexName', Value: index }] : [])]))}`,
        ),
      );

      // Assess
      expect(alarm.AlarmActions, kind).toEqual([tickets]);
      expect(read.sort(), kind).toEqual(expected.sort());
      expect(alarm.Threshold, kind).toBe(10);
    }
  });

  it('alarms on new dead letters (rises in the queue, not its depth, so it clears by itself) and on dead letters older than a day', () => {
    for (const queue of [s.stack.importQueue.deadLetterQueue, s.stack.functions.fetchDeadLetterQueue, s.stack.changesQueue.deadLetterQueue]) {
      // Prepare
      const queueName = { 'Fn::GetAtt': [s.lid(queue), 'QueueName'] };
      const arrivals = s
        .alarms()
        .filter((a) => a.Metrics?.some((m) => JSON.stringify(m.MetricStat?.Metric.Dimensions) === JSON.stringify([{ Name: 'QueueName', Value: queueName }])));
      const age = s
        .alarms()
        .filter(
          (a) => a.MetricName === 'ApproximateAgeOfOldestMessage' && JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'QueueName', Value: queueName }]),
        );

      // Assess
      expect(arrivals).toHaveLength(1);
      const math = mathOf(arrivals[0]!);
      expect(math.expression).toBe('DIFF(FILL(visible, 0))');
      expect(math.metrics['visible']).toMatchObject({ Metric: { MetricName: 'ApproximateNumberOfMessagesVisible' }, Stat: 'Maximum', Period: 300 });
      expect(arrivals[0]).toMatchObject({ AlarmActions: [tickets], Threshold: 1, EvaluationPeriods: 2, DatapointsToAlarm: 1 });
      expect(age).toHaveLength(1);
      expect(age[0]).toMatchObject({ AlarmActions: [tickets], Threshold: 86_400 });
    }
  });

  it('names the dashboard after the stack and the region (dashboard names are global to an account) and graphs this stage’s metrics', () => {
    // Prepare
    const dashboard = Object.values(s.resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    const body = JSON.stringify(dashboard.Properties['DashboardBody']);
    const productRefs = [...body.matchAll(new RegExp(`\\[\\\\"${importMetrics.namespace}\\\\",\\\\"(\\w+)\\\\"(.*?)\\]`, 'g'))];

    // Assess
    expect(dashboard.Properties['DashboardName']).toBe('DadoPersonioImport-ops-eu-west-1');
    expect(productRefs.length).toBeGreaterThan(10);
    for (const [ref] of productRefs) expect(ref).toContain('\\"stage\\",\\"ops\\"');
    for (const name of Object.values(metricNames)) expect(productRefs.map((r) => r[1])).toContain(name);
  });
});

describe('a stage that names no alarm destination', () => {
  let s: Synthesized;

  beforeAll(() => {
    // Prepare: staging as committed in cdk.json (paging: {}, tickets: {})
    s = synthesize({ ...baseContext, 'dado:stage': 'staging' });
  });

  it('gets both topics of its own, TLS only and without subscriptions, paging and tickets apart', () => {
    // Prepare
    const paging = s.lid(s.stack.monitoring.pagingTopic);
    const tickets = s.lid(s.stack.monitoring.ticketsTopic);

    // Assess
    expect(
      Object.entries(s.resources)
        .filter(([, r]) => r.Type === 'AWS::SNS::Topic')
        .map(([id]) => id)
        .sort(),
    ).toEqual([paging, tickets].sort());
    expect(Object.values(s.resources).filter((r) => r.Type === 'AWS::SNS::Subscription')).toEqual([]);
    for (const topic of [paging, tickets]) {
      const policy = Object.values(s.resources).find(
        (r) => r.Type === 'AWS::SNS::TopicPolicy' && JSON.stringify(r.Properties['Topics']) === JSON.stringify([{ Ref: topic }]),
      );
      expect(JSON.stringify(policy?.Properties['PolicyDocument']), topic).toContain('"aws:SecureTransport":"false"');
      // A topic policy replaces SNS's default one: CloudWatch may publish only because a statement says so.
      const statements = (
        policy!.Properties['PolicyDocument'] as { Statement: { Effect: string; Principal?: unknown; Action: unknown; Condition?: unknown }[] }
      ).Statement;
      expect(statements, topic).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': s.config.env.account } }),
        }),
      );
    }
    expect(s.alarm('RunsFailing').AlarmActions).toEqual([{ Ref: paging }]);
    expect(s.alarm('RunsHeld').AlarmActions).toEqual([{ Ref: tickets }]);
    expect(s.alarm('RunsFailing').AlarmName).toBe('staging-DadoPersonioImport-staging-RunsFailing');
  });
});
