import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { envNames, loadConfig } from '../../lib/config.js';
import { runLeases, SWEEP_PERIOD_MS } from '../../lib/runs/lease.js';
import { connectionKeys, runKeys, userKeys } from '../../lib/storage/tables.js';
import { functionNames } from '../../infra/bundling.js';
import { parseDeploymentConfig } from '../../infra/config.js';
import { functionSettings } from '../../infra/constructs/functions.js';
import { MAX_RECEIVE_COUNT, workerEventSource } from '../../infra/constructs/import-queue.js';
import { SWEEP_DELIVERY_RETRIES } from '../../infra/constructs/sweep-schedule.js';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';
import { PersonioImportStack } from '../../infra/stack.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Resource = { Type: string; Properties: Record<string, Json>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

// The deployed configuration: the same context the CDK CLI reads from cdk.json (feature flags and dado:* defaults).
const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const config = parseDeploymentConfig(context);

let stack: PersonioImportStack;
let template: Template;
let resources: Record<string, Resource>;

/** Logical id of a construct's CloudFormation resource. */
const lid = (construct: IConstruct): string => stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;

/** Renders an intrinsic as text: `${Users.Arn}`, `arn:${AWS::Partition}:...`. */
function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if ('Ref' in value) return `\${${String(value['Ref'])}}`;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `\${${String(getAtt[0])}.${String(getAtt[1])}}`;
    const join = value['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) return join[1].map(render).join(String(join[0]));
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

const list = (value: Json | undefined): Json[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every "action on resource" a role may do, from all the policies attached to it (conditions appended). */
function permissionsOf(roleId: string): string[] {
  const pairs: string[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    if (!list(resource.Properties['Roles']).some((r) => render(r) === `\${${roleId}}`)) continue;
    const document = resource.Properties['PolicyDocument'] as { Statement: { Effect: string; Action: Json; Resource: Json; Condition?: Json }[] };
    for (const statement of document.Statement) {
      expect(statement.Effect).toBe('Allow');
      const condition = statement.Condition === undefined ? '' : ` if ${JSON.stringify(statement.Condition)}`;
      for (const action of list(statement.Action))
        for (const target of list(statement.Resource)) pairs.push(`${render(action)} on ${render(target)}${condition}`);
    }
  }
  return pairs.sort();
}

const pairs = (actions: readonly string[], ...targets: string[]): string[] => actions.flatMap((a) => targets.map((t) => `${a} on ${t}`));
const arn = (id: string) => `\${${id}.Arn}`;
const read = ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:Query'];
const readWrite = [...read, 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
const xray = pairs(['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], '*');
const logsOf = (logGroupId: string) => pairs(['logs:CreateLogStream', 'logs:PutLogEvents'], arn(logGroupId));
// The stack is always in its stage's account and region (infra/stack.ts), so its ARNs are literals.
const secretArn = `arn:aws:secretsmanager:${config.env.region}:${config.env.account}:secret:${config.secretPrefix}*`;
/** The tables' key: reads decrypt, writes encrypt too (infra/grants.ts tableKeyActions). */
const dataKeyUse = () => pairs(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], arn(lid(stack.keys.data)));
const environmentOf = (fnId: string) => (resources[fnId]!.Properties['Environment'] as { Variables: Record<string, Json> }).Variables;

beforeAll(() => {
  // Prepare: the stack as `cdk synth` builds it (bundling included), synthesized once for all tests.
  const app = new App({ context });
  stack = new PersonioImportStack(app, config.stackName, { config });
  template = Template.fromStack(stack);
  resources = template.toJSON()['Resources'] as Record<string, Resource>;
});

describe('import queue and worker event source', () => {
  it('lets the worker report failed messages one by one, in batches of 10 within a 2 s window, at most 10 at a time', () => {
    // Assess
    const workerMappings = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && render(r.Properties['FunctionName']!) === `\${${lid(stack.functions.worker)}}`,
    );
    expect(workerMappings).toHaveLength(1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: lid(stack.functions.worker) },
      EventSourceArn: { 'Fn::GetAtt': [lid(stack.importQueue.queue), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    expect(workerEventSource.batchSize).toBe(10);
  });

  it('keeps a message invisible for at least six times the worker timeout', () => {
    // Prepare
    const queue = resources[lid(stack.importQueue.queue)]!;
    const worker = resources[lid(stack.functions.worker)]!;

    // Assess
    expect(worker.Properties['Timeout']).toBe(functionSettings.worker.timeout.toSeconds());
    expect(queue.Properties['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * (worker.Properties['Timeout'] as number));
  });

  it('sets a message aside in the dead-letter queue after 5 receives', () => {
    // Assess
    expect(MAX_RECEIVE_COUNT).toBe(5);
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [lid(stack.importQueue.deadLetterQueue), 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  it("lets the worker shorten a failed message's retry: ChangeMessageVisibility on the queue its IMPORT_QUEUE_URL names", () => {
    // Prepare
    const queueId = lid(stack.importQueue.queue);

    // Act
    const permissions = permissionsOf(lid(stack.functions.worker.role!));

    // Assess: once (the binder's grant and the event source's merge), on the import queue only
    expect(permissions.filter((p) => p.startsWith('sqs:ChangeMessageVisibility '))).toEqual([`sqs:ChangeMessageVisibility on ${arn(queueId)}`]);
    expect(environmentOf(lid(stack.functions.worker))[envNames.importQueueUrl]).toEqual({ Ref: queueId });
  });

  it('encrypts every queue (employee records with the queue key, fetch events with SQS’s) and refuses requests without TLS', () => {
    // Prepare
    const queueIds = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::SQS::Queue')
      .map(([id]) => id);
    const withQueueKey = [
      lid(stack.importQueue.queue),
      lid(stack.importQueue.deadLetterQueue),
      lid(stack.changesQueue.queue),
      lid(stack.changesQueue.deadLetterQueue),
    ];

    // Assess
    // With the publisher's dead-letter queue (stream coordinates, no data: SQS's key).
    expect(queueIds).toHaveLength(6);
    for (const id of queueIds) {
      if (withQueueKey.includes(id)) expect(resources[id]?.Properties['KmsMasterKeyId'], id).toEqual({ 'Fn::GetAtt': [lid(stack.keys.queue), 'Arn'] });
      else expect(resources[id]?.Properties['SqsManagedSseEnabled'], id).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });
});

describe('tables', () => {
  const keySchema = (hash: string, range?: string) => [
    { AttributeName: hash, KeyType: 'HASH' },
    ...(range ? [{ AttributeName: range, KeyType: 'RANGE' }] : []),
  ];

  it('use the key names and the email index of lib/storage/tables.ts', () => {
    // Assess
    expect(resources[lid(stack.tables.users.table)]?.Properties).toMatchObject({
      KeySchema: keySchema(userKeys.partition, userKeys.sort),
      GlobalSecondaryIndexes: [
        { IndexName: userKeys.emailIndex, KeySchema: keySchema(userKeys.partition, userKeys.emailKey), Projection: { ProjectionType: 'KEYS_ONLY' } },
      ],
    });
    expect(resources[lid(stack.tables.connections.table)]?.Properties['KeySchema']).toEqual(keySchema(connectionKeys.partition));
    expect(resources[lid(stack.tables.runs.table)]?.Properties['KeySchema']).toEqual(keySchema(runKeys.partition, runKeys.sort));
  });

  it('are all on-demand with point-in-time recovery', () => {
    // Assess
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 4);
    template.allResourcesProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('retain the users (deletion protection on) and the connections, and drop the runs on teardown', () => {
    // Prepare
    const users = resources[lid(stack.tables.users.table)]!;
    const connections = resources[lid(stack.tables.connections.table)]!;
    const runs = resources[lid(stack.tables.runs.table)]!;

    // Assess
    expect([users.DeletionPolicy, users.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    expect(users.Properties['Replicas']).toEqual([expect.objectContaining({ DeletionProtectionEnabled: true })]);
    expect([connections.DeletionPolicy, connections.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    expect(runs.DeletionPolicy).toBe('Delete');
  });

  it('let DynamoDB expire the runs table’s message markers', () => {
    expect(resources[lid(stack.tables.runs.table)]?.Properties['TimeToLiveSpecification']).toEqual({ AttributeName: runKeys.ttl, Enabled: true });
  });
});

describe('functions', () => {
  it('deploys exactly the functions infra/bundling.ts lists (the bench measures that list)', () => {
    // Assess
    expect(Object.keys(stack.functions.all).sort()).toEqual([...functionNames].sort());
    template.resourceCountIs('AWS::Lambda::Function', functionNames.length);
  });

  it.each(functionNames)('%s: ESM on nodejs24.x, ARM64, JSON logs into its own log group, traced, sized', (name) => {
    // Prepare
    const fnId = lid(stack.functions[name]);
    const logGroupId = lid(stack.functions.node.findChild(`${name[0]!.toUpperCase()}${name.slice(1)}Logs`));

    // Assess
    expect(resources[fnId]?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
      Timeout: functionSettings[name].timeout.toSeconds(),
      MemorySize: functionSettings[name].memorySize,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: logGroupId } },
      TracingConfig: { Mode: 'Active' },
    });
    expect(environmentOf(fnId)).toMatchObject({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_METRICS_NAMESPACE: importMetrics.namespace,
      POWERTOOLS_SERVICE_NAME: importMetrics.service,
    });
  });

  it("keeps connect under API Gateway's 30 s and the fetch within Lambda's 15 min", () => {
    // Assess
    expect(functionSettings.connect.timeout.toSeconds()).toBeLessThan(30);
    expect(functionSettings.fetch.timeout.toSeconds()).toBeLessThanOrEqual(900);
  });

  it('gives every log group (functions and both APIs’ access logs) the configured retention', () => {
    // Assess
    template.resourceCountIs('AWS::Logs::LogGroup', functionNames.length + 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: config.logRetentionDays });
  });

  it('sends failed asynchronous fetch invocations to the fetch dead-letter queue', () => {
    // Assess
    expect(resources[lid(stack.functions.fetch)]?.Properties['DeadLetterConfig']).toEqual({
      TargetArn: { 'Fn::GetAtt': [lid(stack.functions.fetchDeadLetterQueue), 'Arn'] },
    });
  });
});

describe('sweeper', () => {
  const periodSeconds = SWEEP_PERIOD_MS / 1000;

  it('runs every SWEEP_PERIOD_MS (lib/runs/lease.ts) with an empty event, delivery retried within one period', () => {
    // Prepare
    const rule = resources[lid(stack.sweepSchedule.rule)]!;

    // Assess
    expect(periodSeconds % 60).toBe(0);
    template.resourceCountIs('AWS::Events::Rule', 1);
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: `rate(${periodSeconds / 60} minutes)`,
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [lid(stack.functions.sweeper), 'Arn'] },
          Input: '{}',
          RetryPolicy: { MaximumRetryAttempts: SWEEP_DELIVERY_RETRIES, MaximumEventAgeInSeconds: periodSeconds },
        },
      ],
    });
  });

  it('may be invoked by this rule only', () => {
    // Prepare
    const permissions = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties['FunctionName']).includes(lid(stack.functions.sweeper)),
    );

    // Assess
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [lid(stack.functions.sweeper), 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [lid(stack.sweepSchedule.rule), 'Arn'] },
      },
    ]);
  });

  it('runs one sweep at a time; a failed sweep is not retried and a throttled firing is dropped after one period', () => {
    // Assess
    expect(resources[lid(stack.functions.sweeper)]?.Properties['ReservedConcurrentExecutions']).toBe(1);
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: lid(stack.functions.sweeper) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: periodSeconds,
    });
  });

  it('ends before the next firing, and before the leases it claims could expire under it', () => {
    // Prepare
    const timeoutMs = (resources[lid(stack.functions.sweeper)]?.Properties['Timeout'] as number) * 1000;

    // Assess: a finalization or approval the sweeper claims is still its own until the sweeper is gone
    expect(timeoutMs).toBe(functionSettings.sweeper.timeout.toMilliseconds());
    expect(timeoutMs).toBeLessThan(SWEEP_PERIOD_MS);
    expect(timeoutMs).toBeLessThanOrEqual(runLeases.finalizingMs);
    expect(timeoutMs).toBeLessThanOrEqual(runLeases.approvingMs);
  });

  it('the leases outlast the functions that hold them: a finalizing worker, an approving connect', () => {
    // Assess (lib/runs/lease.ts states both against the deployed timeouts)
    expect(functionSettings.worker.timeout.toMilliseconds()).toBeLessThanOrEqual(runLeases.finalizingMs);
    expect(functionSettings.connect.timeout.toMilliseconds()).toBeLessThanOrEqual(runLeases.approvingMs);
  });
});

describe('IAM: each function may do exactly what its code needs, on its own resources', () => {
  it('connect: connections, runs, users and audit (read/write, email index, their key), secrets under the prefix (manage, under the secrets key, tagged), its schedules, invoke the fetch', () => {
    // Prepare
    const { connect, fetch } = stack.functions;
    const users = arn(lid(stack.tables.users.table));
    const scheduleArn = `arn:aws:scheduler:${config.env.region}:${config.env.account}:schedule/${config.stackName}/*`;
    const underKey = { 'secretsmanager:KmsKeyArn': { 'Fn::GetAtt': [lid(stack.keys.secrets), 'Arn'] } };

    // Act
    const permissions = permissionsOf(lid(connect.role!));

    // Assess
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('ConnectLogs'))),
        ...xray,
        // Users: finishing a stalled run's completion may create users (an address passed on); approval deactivates; the
        // mapping preview reads users and the holders of an address (the email index).
        ...pairs(readWrite, arn(lid(stack.tables.connections.table)), arn(lid(stack.tables.runs.table)), users, arn(lid(stack.tables.audit.table))),
        `dynamodb:Query on ${users}/index/${userKeys.emailIndex}`,
        ...dataKeyUse(),
        // Creating or updating a secret names the secrets key, tagging names the stage and only the tenant/stage keys;
        // the key's own policy lets connect use it (test/infra/boundaries.test.ts).
        `secretsmanager:CreateSecret on ${secretArn} if ${JSON.stringify({ StringEquals: { ...underKey, 'aws:RequestTag/dado:stage': config.stage } })}`,
        `secretsmanager:UpdateSecret on ${secretArn} if ${JSON.stringify({ StringEquals: underKey })}`,
        `secretsmanager:TagResource on ${secretArn} if ${JSON.stringify({
          StringEquals: { 'aws:RequestTag/dado:stage': config.stage },
          'ForAllValues:StringEquals': { 'aws:TagKeys': ['dado:tenant', 'dado:stage'] },
        })}`,
        ...pairs(['secretsmanager:DeleteSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:RestoreSecret'], secretArn),
        ...pairs(['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule'], scheduleArn),
        `iam:PassRole on ${arn(lid(stack.schedules.role))} if {"StringEquals":{"iam:PassedToService":"scheduler.amazonaws.com"}}`,
        `lambda:InvokeFunction on ${arn(lid(fetch))}`,
      ].sort(),
    );
  });

  it('fetch: connections, runs and users (read/write, email index, their key), secrets (read only), send to the import queue (with its key) and its DLQ', () => {
    // Prepare
    const { fetch } = stack.functions;
    const users = arn(lid(stack.tables.users.table));

    // Act
    const permissions = permissionsOf(lid(fetch.role!));

    // Assess
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('FetchLogs'))),
        ...xray,
        ...pairs(readWrite, arn(lid(stack.tables.connections.table)), arn(lid(stack.tables.runs.table)), users),
        `dynamodb:Query on ${users}/index/${userKeys.emailIndex}`,
        ...dataKeyUse(),
        `secretsmanager:GetSecretValue on ${secretArn}`,
        ...pairs(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], arn(lid(stack.importQueue.queue))),
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], arn(lid(stack.keys.queue))),
        `sqs:SendMessage on ${arn(lid(stack.functions.fetchDeadLetterQueue))}`,
      ].sort(),
    );
  });

  it('refresh: connections (read only: it takes no lock), runs and users (read/write, email index), their key, secrets (read only), send to the import queue, consume the changes queue (with their key)', () => {
    // Prepare
    const users = arn(lid(stack.tables.users.table));
    const connections = arn(lid(stack.tables.connections.table));

    // Act
    const permissions = permissionsOf(lid(stack.functions.refresh.role!));

    // Assess
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('RefreshLogs'))),
        ...xray,
        ...pairs(['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:Query'], connections),
        ...pairs(readWrite, arn(lid(stack.tables.runs.table)), users),
        `dynamodb:Query on ${users}/index/${userKeys.emailIndex}`,
        ...dataKeyUse(),
        `secretsmanager:GetSecretValue on ${secretArn}`,
        ...pairs(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], arn(lid(stack.importQueue.queue))),
        ...pairs(
          ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
          arn(lid(stack.changesQueue.queue)),
        ),
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], arn(lid(stack.keys.queue))),
      ].sort(),
    );
  });

  it("worker: users (read/write, email index) and runs (read/write), their key, consume the import queue (and change a message's visibility; decrypt with its key); no secrets, no connections", () => {
    // Prepare
    const users = arn(lid(stack.tables.users.table));

    // Act
    const permissions = permissionsOf(lid(stack.functions.worker.role!));

    // Assess
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('WorkerLogs'))),
        ...xray,
        ...pairs(readWrite, arn(lid(stack.tables.runs.table)), users),
        `dynamodb:Query on ${users}/index/${userKeys.emailIndex}`,
        ...dataKeyUse(),
        ...pairs(
          ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
          arn(lid(stack.importQueue.queue)),
        ),
        `kms:Decrypt on ${arn(lid(stack.keys.queue))}`,
      ].sort(),
    );
  });

  it('sweeper: connections (GetItem, Scan and UpdateItem only), runs and users (read/write, email index: it finishes a stalled completion as the worker would), their key, the repair of the group’s schedules; no secrets, no queues', () => {
    // Prepare
    const users = arn(lid(stack.tables.users.table));

    // Act
    const permissions = permissionsOf(lid(stack.functions.sweeper.role!));

    // Assess
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('SweeperLogs'))),
        ...xray,
        ...pairs(['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'], arn(lid(stack.tables.connections.table))),
        ...pairs(readWrite, arn(lid(stack.tables.runs.table)), users),
        `dynamodb:Query on ${users}/index/${userKeys.emailIndex}`,
        ...dataKeyUse(),
        // The schedule repair: list (no resource-level permissions), read and update the group's schedules, name the role.
        'scheduler:ListSchedules on *',
        ...pairs(
          ['scheduler:GetSchedule', 'scheduler:UpdateSchedule'],
          `arn:aws:scheduler:${config.env.region}:${config.env.account}:schedule/${config.stackName}/*`,
        ),
        `iam:PassRole on ${arn(lid(stack.schedules.role))} if {"StringEquals":{"iam:PassedToService":"scheduler.amazonaws.com"}}`,
      ].sort(),
    );
  });

  it('webhook: GetItem on connections and UpdateItem of its webhooks attribute only, GetItem and PutItem on runs (dedupe), their key, send to the changes queue (with its key)', () => {
    // Prepare
    const { webhook } = stack.functions;
    const connections = arn(lid(stack.tables.connections.table));
    const onlyWebhooks = {
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': [connectionKeys.partition, 'webhooks'] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] },
    };

    // Act
    const permissions = permissionsOf(lid(webhook.role!));

    // Assess: no secrets, no users, no audit, no import queue
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('WebhookLogs'))),
        ...xray,
        `dynamodb:GetItem on ${connections}`,
        `dynamodb:UpdateItem on ${connections} if ${JSON.stringify(onlyWebhooks)}`,
        ...pairs(['dynamodb:GetItem', 'dynamodb:PutItem'], arn(lid(stack.tables.runs.table))),
        ...dataKeyUse(),
        `sqs:SendMessage on ${arn(lid(stack.changesQueue.queue))}`,
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], arn(lid(stack.keys.queue))),
      ].sort(),
    );
  });

  it('lets only the sweeper Scan, and only the connections table; nobody deletes or batch-writes', () => {
    // Act
    const byFunction = Object.fromEntries(
      Object.entries(stack.functions.all).map(([name, fn]) => [
        name,
        permissionsOf(lid(fn.role!)).filter((p) => /^dynamodb:(Scan|DeleteItem|BatchWriteItem|\*)/.test(p)),
      ]),
    );

    // Assess
    expect(byFunction).toEqual({
      connect: [],
      webhook: [],
      fetch: [],
      refresh: [],
      worker: [],
      sweeper: [`dynamodb:Scan on ${arn(lid(stack.tables.connections.table))}`],
      publisher: [],
    });
  });

  it('publisher: read the users and runs tables’ streams (not their items), decrypt with their key, PutEvents on the product’s bus only, its dead-letter queue', () => {
    // Prepare
    const { publisher } = stack.functions;
    const streams = [stack.tables.users, stack.tables.runs].map((t) => `\${${lid(t.table)}.StreamArn}`);

    // Act
    const permissions = permissionsOf(lid(publisher.role!));

    // Assess: no table items, no other bus, no secrets or queues of the import
    expect(permissions).toEqual(
      [
        ...logsOf(lid(stack.functions.node.findChild('PublisherLogs'))),
        ...xray,
        ...streams.flatMap((s) => pairs(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'], s)),
        ...pairs(['kms:Decrypt', 'kms:DescribeKey'], arn(lid(stack.keys.data))),
        `events:PutEvents on ${arn(lid(stack.changeEvents.bus))}`,
        ...pairs(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], arn(lid(stack.changeEvents.deadLetterQueue))),
      ].sort(),
    );
  });

  it("uses a `*` resource only for X-Ray and the sweeper's ListSchedules, which have no resource-level permissions", () => {
    // Prepare
    const roles = Object.entries(stack.functions.all).map(([name, fn]) => [name, lid(fn.role!)] as const);

    // Act
    const starred = roles.flatMap(([name, roleId]) => permissionsOf(roleId).map((p) => `${name}: ${p}`)).filter((p) => p.endsWith(' on *'));

    // Assess
    expect(starred.length).toBeGreaterThan(0);
    for (const permission of starred) expect(permission).toMatch(/^\w+: xray:|^sweeper: scheduler:ListSchedules /);
  });

  it("lets the scheduler role invoke the fetch and nothing else, assumed only by this group's schedules", () => {
    // Prepare
    const roleId = lid(stack.schedules.role);

    // Act
    const permissions = permissionsOf(roleId);

    // Assess
    expect(permissions).toEqual([`lambda:InvokeFunction on ${arn(lid(stack.functions.fetch))}`]);
    expect(resources[roleId]?.Properties['AssumeRolePolicyDocument']).toMatchObject({
      Statement: [
        {
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': config.env.account, 'aws:SourceArn': { 'Fn::GetAtt': [lid(stack.schedules.group), 'Arn'] } },
          },
        },
      ],
    });
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: config.stackName });
  });
});

/** The settings every function gets: its stage, how long final runs are kept, when credential failures pause a tenant. */
const everyFunction = () => ({
  [envNames.stage]: config.stage,
  [envNames.runRetentionDays]: String(config.runRetentionDays),
  [envNames.pauseAfterCredentialFailures]: String(config.pauseAfterCredentialFailures),
});

describe('environment: every grant comes with the variable that names its resource', () => {
  it.each([
    [
      'connect',
      () => ({
        [envNames.connectionsTable]: { Ref: lid(stack.tables.connections.table) },
        [envNames.runsTable]: { Ref: lid(stack.tables.runs.table) },
        [envNames.usersTable]: { Ref: lid(stack.tables.users.table) },
        [envNames.auditTable]: { Ref: lid(stack.tables.audit.table) },
        [envNames.secretPrefix]: config.secretPrefix,
        [envNames.secretsKmsKeyId]: { 'Fn::GetAtt': [lid(stack.keys.secrets), 'Arn'] },
        [envNames.personioBaseUrl]: config.personioBaseUrl,
        [envNames.personioAppId]: config.personioAppId,
        [envNames.deactivationThreshold]: String(config.deactivationThreshold),
        [envNames.scheduleGroupName]: config.stackName,
        [envNames.schedulerRoleArn]: { 'Fn::GetAtt': [lid(stack.schedules.role), 'Arn'] },
        [envNames.fetchFunctionArn]: { 'Fn::GetAtt': [lid(stack.functions.fetch), 'Arn'] },
        [envNames.fetchFunctionName]: { Ref: lid(stack.functions.fetch) },
        [envNames.scheduleExpression]: config.scheduleDefault,
        [envNames.scheduleFlexibleWindowMinutes]: String(config.scheduleFlexibleWindowMinutes),
        [envNames.allowedCallers]: config.allowedCallers.join(','),
        [envNames.reconcileScheduleExpression]: config.reconcileScheduleDefault,
        // The public webhook route connect registers with Personio, per tenant.
        [envNames.webhookBaseUrl]: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [lid(stack.webhookApi.api), 'ApiEndpoint'] }, '/webhooks/personio/']] },
        ...everyFunction(),
      }),
    ],
    [
      'webhook',
      () => ({
        [envNames.connectionsTable]: { Ref: lid(stack.tables.connections.table) },
        [envNames.runsTable]: { Ref: lid(stack.tables.runs.table) },
        [envNames.changesQueueUrl]: { Ref: lid(stack.changesQueue.queue) },
        // The receiver settles no run: of the settings every function gets, only the stage.
        [envNames.stage]: config.stage,
      }),
    ],
    [
      'fetch',
      () => ({
        [envNames.usersTable]: { Ref: lid(stack.tables.users.table) },
        [envNames.connectionsTable]: { Ref: lid(stack.tables.connections.table) },
        [envNames.runsTable]: { Ref: lid(stack.tables.runs.table) },
        [envNames.importQueueUrl]: { Ref: lid(stack.importQueue.queue) },
        [envNames.secretPrefix]: config.secretPrefix,
        [envNames.personioBaseUrl]: config.personioBaseUrl,
        [envNames.personioAppId]: config.personioAppId,
        [envNames.deactivationThreshold]: String(config.deactivationThreshold),
        ...everyFunction(),
      }),
    ],
    [
      'refresh',
      () => ({
        [envNames.usersTable]: { Ref: lid(stack.tables.users.table) },
        [envNames.connectionsTable]: { Ref: lid(stack.tables.connections.table) },
        [envNames.runsTable]: { Ref: lid(stack.tables.runs.table) },
        [envNames.importQueueUrl]: { Ref: lid(stack.importQueue.queue) },
        [envNames.changesQueueUrl]: { Ref: lid(stack.changesQueue.queue) },
        [envNames.secretPrefix]: config.secretPrefix,
        [envNames.personioBaseUrl]: config.personioBaseUrl,
        [envNames.personioAppId]: config.personioAppId,
        [envNames.deactivationThreshold]: String(config.deactivationThreshold),
        ...everyFunction(),
      }),
    ],
    [
      'worker',
      () => ({
        [envNames.usersTable]: { Ref: lid(stack.tables.users.table) },
        [envNames.runsTable]: { Ref: lid(stack.tables.runs.table) },
        [envNames.importQueueUrl]: { Ref: lid(stack.importQueue.queue) },
        [envNames.deactivationThreshold]: String(config.deactivationThreshold),
        ...everyFunction(),
      }),
    ],
    [
      'publisher',
      () => ({
        [envNames.eventBusName]: { Ref: lid(stack.changeEvents.bus) },
        // It settles no run: of the settings every function gets, only the stage.
        [envNames.stage]: config.stage,
      }),
    ],
    [
      'sweeper',
      () => ({
        [envNames.usersTable]: { Ref: lid(stack.tables.users.table) },
        [envNames.connectionsTable]: { Ref: lid(stack.tables.connections.table) },
        [envNames.runsTable]: { Ref: lid(stack.tables.runs.table) },
        [envNames.deactivationThreshold]: String(config.deactivationThreshold),
        // What every tenant schedule must name: the schedule repair's group, role and target.
        [envNames.scheduleGroupName]: config.stackName,
        [envNames.schedulerRoleArn]: { 'Fn::GetAtt': [lid(stack.schedules.role), 'Arn'] },
        [envNames.fetchFunctionArn]: { 'Fn::GetAtt': [lid(stack.functions.fetch), 'Arn'] },
        ...everyFunction(),
      }),
    ],
  ] as const)('%s has exactly the variables its grants and settings imply', (name, expected) => {
    // Prepare
    const { NODE_OPTIONS, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, ...environment } = environmentOf(lid(stack.functions[name]));

    // Assess
    expect(environment).toEqual(expected());
  });

  it.each(functionNames)(
    '%s: each resource in its policy is named in its environment (or is its own log group, DLQ or event source, or the key of one)',
    (name) => {
      // Prepare
      const fn = stack.functions[name];
      const fnId = lid(fn);
      const ownWiring = new Set([
        render((resources[fnId]!.Properties['LoggingConfig'] as { LogGroup: Json }).LogGroup),
        ...(name === 'fetch' ? [`\${${lid(stack.functions.fetchDeadLetterQueue)}}`] : []),
        ...(name === 'worker' ? [`\${${lid(stack.importQueue.queue)}}`] : []),
        ...(name === 'refresh' ? [`\${${lid(stack.changesQueue.queue)}}`] : []),
        // The publisher's event sources are the two tables' streams; its on-failure destination is its dead-letter queue.
        ...(name === 'publisher'
          ? [`\${${lid(stack.tables.users.table)}}`, `\${${lid(stack.tables.runs.table)}}`, `\${${lid(stack.changeEvents.deadLetterQueue)}}`]
          : []),
      ]);
      const named = new Set(Object.values(environmentOf(fnId)).map((v) => (typeof v === 'string' ? v : render(v).replace(/\.Arn}$/, '}'))));
      // A key is wiring of the resources it encrypts: a function that may use a table or a queue uses its key.
      const ref = (id: string) => `\${${id}}`;
      const encrypts = [
        [stack.keys.data, stack.tables.all.map((t) => ref(lid(t.table)))],
        [stack.keys.queue, [ref(lid(stack.importQueue.queue)), ref(lid(stack.changesQueue.queue))]],
      ] as const;
      for (const [key, encrypted] of encrypts) if (encrypted.some((r) => named.has(r) || ownWiring.has(r))) ownWiring.add(ref(lid(key)));

      // Act: the resource each permission targets, as `${LogicalId}` or the literal pattern
      const targets = permissionsOf(lid(fn.role!))
        .map((p) => p.split(' on ')[1]!.split(' if ')[0]!)
        .filter((t) => t !== '*')
        .map((t) => t.match(/^\$\{([^.}]+)\.(?:Stream)?Arn\}/)?.[1] ?? t);

      // Assess
      for (const target of targets) {
        if (target.startsWith('arn:')) {
          // Patterns: the secret prefix or the schedule group, named by SECRET_PREFIX / SCHEDULE_GROUP_NAME.
          expect(
            [...named].some((value) => value.length > 3 && (target.includes(`:${value}`) || target.includes(`/${value}/`))),
            target,
          ).toBe(true);
        } else {
          const ref = `\${${target}}`;
          expect(named.has(ref) || ownWiring.has(ref), `${name} may use ${target} but no variable names it`).toBe(true);
        }
      }
    },
  );
});

type ConfigKey = keyof typeof envNames;
const runtimeOnly = new Set(['NODE_OPTIONS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME']);

/**
 * The configuration keys a handler reads: the string literals of the one `loadConfig([...])` call in
 * functions/<name>.ts (the entry the stack bundles). Anything but plain literals in that list fails, so a key cannot
 * hide from this check behind a variable or a spread.
 */
function loadConfigKeys(name: string): ConfigKey[] {
  const source = readFileSync(new URL(`../../functions/${name}.ts`, import.meta.url), 'utf8');
  const calls = [...source.matchAll(/\bloadConfig\(\s*\[([^\]]*)\]/g)];
  expect(
    calls.map((c) => c[0].slice(0, 40)),
    `functions/${name}.ts: one loadConfig([...]) call`,
  ).toHaveLength(1);
  const body = calls[0]![1]!.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '');
  const literals = [...body.matchAll(/'([^']*)'|"([^"]*)"/g)];
  expect(body.replace(/'[^']*'|"[^"]*"/g, '').replace(/[\s,]/g, ''), `functions/${name}.ts: loadConfig([...]) lists plain string literals only`).toBe('');
  const keys = literals.map((m) => (m[1] ?? m[2])!);
  for (const key of keys) expect(Object.keys(envNames), `functions/${name}.ts reads an unknown key`).toContain(key);
  return keys as ConfigKey[];
}

describe("environment: every variable a handler's loadConfig([...]) reads is set, and nothing else", () => {
  it.each(functionNames)('%s', (name) => {
    // Prepare
    const keys = loadConfigKeys(name);
    const environment = environmentOf(lid(stack.functions[name]));

    // Act
    const required = keys.map((key) => envNames[key]).sort();
    const set = Object.keys(environment)
      .filter((variable) => !runtimeOnly.has(variable))
      .sort();
    const literal: Record<string, string> = {};
    for (const key of keys) {
      const value = environment[envNames[key]];
      if (typeof value === 'string') literal[envNames[key]] = value;
    }

    // Assess: a missing variable fails the cold start (ConfigError); an extra one is a grant or setting nothing reads.
    expect(keys.length).toBeGreaterThan(0);
    for (const variable of required) expect(environment[variable], `${name} reads ${variable}, which the stack does not set`).toBeTruthy();
    expect(set).toEqual(required);
    // The values the stack writes as text (settings, prefixes; not tokens resolved at deploy time) pass the function's
    // own validation.
    expect(() =>
      loadConfig(
        keys.filter((key) => envNames[key] in literal),
        literal,
      ),
    ).not.toThrow();
  });
});

describe('connect API', () => {
  it("routes /tenants/* to connect behind IAM auth, within connect's timeout", () => {
    // Assess
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      ApiId: { Ref: lid(stack.api.api) },
      RouteKey: 'ANY /tenants/{proxy+}',
      AuthorizationType: 'AWS_IAM',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', TimeoutInMillis: 29_000 });
  });

  it('throttles the stage and writes JSON access logs', () => {
    // Prepare
    const stage = resources[lid(stack.api.stage)]!;
    const logs = stage.Properties['AccessLogSettings'] as { Format: string; DestinationArn: Json };

    // Assess
    expect(stage.Properties['DefaultRouteSettings']).toEqual({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
    expect(JSON.parse(logs.Format)).toMatchObject({ requestId: '$context.requestId', caller: '$context.identity.userArn', status: '$context.status' });
    expect(logs.DestinationArn).toEqual({ 'Fn::GetAtt': [lid(stack.api.accessLogs), 'Arn'] });
  });
});

describe('webhook API: the only public route', () => {
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('routes exactly POST /webhooks/personio/{tenantId} to the webhook function, without IAM or any authorizer', () => {
    // Prepare
    const routes = ofType('AWS::ApiGatewayV2::Route').filter(([, r]) => render(r.Properties['ApiId']!) === `\${${lid(stack.webhookApi.api)}}`);
    const integration = resources[render(routes[0]?.[1].Properties['Target'] as Json).replace(/^integrations\/\$\{(.*)\}$/, '$1')];

    // Assess
    expect(routes.map(([, r]) => [r.Properties['RouteKey'], r.Properties['AuthorizationType'] ?? 'NONE', r.Properties['AuthorizerId']])).toEqual([
      ['POST /webhooks/personio/{tenantId}', 'NONE', undefined],
    ]);
    expect(integration?.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [lid(stack.functions.webhook), 'Arn'] },
      TimeoutInMillis: 6000,
    });
    // Personio gives up after 3 s: the function answers well before its integration times out.
    expect(functionSettings.webhook.timeout.toSeconds()).toBeLessThan(6);
  });

  it('is the only route without IAM auth: every other route of every API is IAM-authorized, and there is no REST API, authorizer or function URL', () => {
    // Act
    const open = ofType('AWS::ApiGatewayV2::Route')
      .filter(([, r]) => r.Properties['AuthorizationType'] !== 'AWS_IAM')
      .map(([, r]) => r.Properties['RouteKey']);

    // Assess
    expect(open).toEqual(['POST /webhooks/personio/{tenantId}']);
    expect(ofType('AWS::ApiGatewayV2::Route')).toHaveLength(2);
    expect(ofType('AWS::ApiGatewayV2::Api')).toHaveLength(2);
    for (const type of ['AWS::ApiGatewayV2::Authorizer', 'AWS::ApiGateway::RestApi', 'AWS::Lambda::Url']) expect(ofType(type), type).toEqual([]);
  });

  it('lets API Gateway invoke the webhook function for that route only, and nothing else invoke it', () => {
    // Prepare
    const permissions = ofType('AWS::Lambda::Permission')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p['FunctionName']).includes(lid(stack.functions.webhook)));

    // Assess
    expect(permissions).toHaveLength(1);
    expect(permissions[0]).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com' });
    // CDK's integration names the route's path (any stage, any method: the route itself is POST only).
    expect(render(permissions[0]!['SourceArn']!)).toBe(
      `arn:aws:execute-api:${config.env.region}:${config.env.account}:\${${lid(stack.webhookApi.api)}}/*/*/webhooks/personio/{tenantId}`,
    );
  });

  it('throttles its stage, and its access logs carry no header and no body', () => {
    // Prepare
    const stage = resources[lid(stack.webhookApi.stage)]!;
    const logs = stage.Properties['AccessLogSettings'] as { Format: string; DestinationArn: Json };

    // Assess
    expect(stage.Properties['DefaultRouteSettings']).toEqual({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 2000 });
    expect(logs.DestinationArn).toEqual({ 'Fn::GetAtt': [lid(stack.webhookApi.accessLogs), 'Arn'] });
    expect(JSON.parse(logs.Format)).toMatchObject({ requestId: '$context.requestId', status: '$context.status', path: '$context.path' });
    expect(logs.Format).not.toMatch(/header|authorization|body|\$input|\$request/i);
  });

  it('puts out the base URL connect registers', () => {
    // Prepare
    const outputs = template.toJSON()['Outputs'] as Record<string, { Value: Json }>;

    // Assess
    expect(render(outputs['WebhookUrl']!.Value)).toBe(`\${${lid(stack.webhookApi.api)}.ApiEndpoint}/webhooks/personio/`);
  });
});

describe('changes queue', () => {
  it('sets a change aside in its dead-letter queue after 5 receives, keeps it 4 days, and lets only the webhook function (and redrive roles) send', () => {
    // Prepare
    const queue = resources[lid(stack.changesQueue.queue)]!;
    const policy = Object.values(resources).find(
      (r) => r.Type === 'AWS::SQS::QueuePolicy' && JSON.stringify(r.Properties['Queues']) === JSON.stringify([{ Ref: lid(stack.changesQueue.queue) }]),
    )!;
    const statements = (policy.Properties['PolicyDocument'] as { Statement: { Sid?: string; Condition?: Record<string, Record<string, Json>> }[] }).Statement;

    // Assess
    expect(queue.Properties).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [lid(stack.changesQueue.deadLetterQueue), 'Arn'] }, maxReceiveCount: 20 },
      MessageRetentionPeriod: 4 * 24 * 3600,
    });
    const senders = statements.find((s) => s.Sid === 'OnlySendersAndRedriveSend')?.Condition?.['ArnNotEquals']?.['aws:PrincipalArn'];
    expect(senders).toEqual([{ 'Fn::GetAtt': [lid(stack.functions.webhook.role!), 'Arn'] }, ...config.redriveRoles]);
  });
});

describe('monitoring', () => {
  // Every product metric is read for the stage only (two stages in one account never share one); test/infra/alarms.test.ts
  // covers the alarms' thresholds, math and destinations.
  const stageDimensions = [
    { Name: 'service', Value: importMetrics.service },
    { Name: 'stage', Value: config.stage },
  ];
  const topics = () => [{ Ref: lid(stack.monitoring.pagingTopic) }, { Ref: lid(stack.monitoring.ticketsTopic) }];
  /** An alarm whose metric math reads this metric. */
  const readsMetric = (metric: Record<string, Json>) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Metric: metric }) })]),
    });

  it.each(functionNames)('alarms on %s errors and throttles', (name) => {
    // Prepare
    const dimensions = [{ Name: 'FunctionName', Value: { Ref: lid(stack.functions[name]) } }];

    // Assess
    for (const metric of ['Errors', 'Throttles', 'Invocations']) readsMetric({ Namespace: 'AWS/Lambda', MetricName: metric, Dimensions: dimensions });
  });

  it('alarms on new dead letters (import and fetch), on their age and on the age of the oldest import message', () => {
    // Assess
    for (const queue of [stack.importQueue.deadLetterQueue, stack.functions.fetchDeadLetterQueue]) {
      const dimensions = [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [lid(queue), 'QueueName'] } }];
      readsMetric({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: dimensions });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: dimensions, Threshold: 86_400 });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [lid(stack.importQueue.queue), 'QueueName'] } }],
      Threshold: 3600,
    });
  });

  it("alarms on failed and held runs from the EMF metrics the functions emit, for the deployment's stage", () => {
    // Assess
    for (const name of [metricNames.runsFailed, metricNames.runsHeld, metricNames.runsCompleted]) {
      readsMetric({ Namespace: importMetrics.namespace, MetricName: name, Dimensions: stageDimensions });
    }
  });

  it('alarms when EventBridge cannot invoke the sweeper', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: lid(stack.sweepSchedule.rule) } }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('alarms on dropped schedule invocations and on 5xx answers of the API, each alarm notifying one of the two topics', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Scheduler',
      MetricName: 'InvocationDroppedCount',
      Dimensions: [{ Name: 'ScheduleGroup', Value: config.stackName }],
    });
    readsMetric({ Namespace: 'AWS/ApiGateway', MetricName: '5xx' });
    template.resourceCountIs('AWS::CloudWatch::Alarm', stack.monitoring.alarmSet.alarms.length);
    for (const [id, resource] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')) {
      expect(topics(), id).toContainEqual((resource.Properties['AlarmActions'] as Json[])[0]);
      expect(resource.Properties['AlarmActions'], id).toHaveLength(1);
    }
  });

  it('shows import throughput, Personio requests and 429s, run outcomes and failure reasons on the dashboard', () => {
    // Prepare
    const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    const body = render(dashboard.Properties['DashboardBody']!);

    // Assess: named after the stack and its region (dashboard names are global to an account)
    expect([`${config.stackName}-\${AWS::Region}`, `${config.stackName}-${config.env.region}`]).toContain(render(dashboard.Properties['DashboardName']!));
    // Each product metric as [namespace, name, dimension, value, …]: all of them drawn, every one for this stage.
    const drawn = [...body.matchAll(/\["Dado\/PersonioImport","(\w+)",([^\]{]*)/g)].map(([, name, dimensions]) => ({ name, dimensions }));
    expect(new Set(drawn.map((d) => d.name))).toEqual(new Set(Object.values(metricNames)));
    for (const { name, dimensions } of drawn) {
      expect(dimensions, name).toContain(`"service","${importMetrics.service}"`);
      expect(dimensions, name).toContain(`"stage","${config.stage}"`);
    }
    for (const title of ['Import throughput', 'Personio requests and 429s', 'Run outcomes', 'Failed runs by reason']) expect(body).toContain(title);
  });

  it("shows every function on the dashboard's per-function graphs", () => {
    // Prepare
    const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    const body = render(dashboard.Properties['DashboardBody']!);

    // Assess
    for (const name of functionNames) {
      for (const label of [`${name} errors`, `${name} throttles`]) expect(body).toContain(`"label":"${label}"`);
      expect(body).toContain(`"FunctionName","\${${lid(stack.functions[name])}}"`);
    }
  });
});

describe('outputs', () => {
  it('name what an operator pausing everything needs: the connections table (the kill switch) and the worker (its event source mapping)', () => {
    // Prepare
    const outputs = template.toJSON()['Outputs'] as Record<string, { Value: Json }>;

    // Assess
    expect(render(outputs['ConnectionsTableName']!.Value)).toBe(`\${${lid(stack.tables.connections.table)}}`);
    expect(render(outputs['WorkerFunctionName']!.Value)).toBe(`\${${lid(stack.functions.worker)}}`);
  });
});

describe('change events out', () => {
  it('has the product’s bus, named after the stack, and an archive of all its events for replay', () => {
    // Assess
    template.hasResourceProperties('AWS::Events::EventBus', { Name: `${config.stackName}-events` });
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [lid(stack.changeEvents.bus), 'Arn'] },
      EventPattern: { account: [config.env.account] },
      RetentionDays: 30,
    });
  });

  it('streams both tables’ items before and after each write, and feeds the publisher from them with bounded retries, bisection and a dead-letter queue', () => {
    // Prepare
    const mappings = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && render(r.Properties['FunctionName']!) === `\${${lid(stack.functions.publisher)}}`,
    );

    // Assess
    for (const table of [stack.tables.users, stack.tables.runs])
      expect(resources[lid(table.table)]?.Properties['StreamSpecification']).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(mappings.map((m) => render(m.Properties['EventSourceArn']!)).sort()).toEqual(
      [stack.tables.users, stack.tables.runs].map((t) => `\${${lid(t.table)}.StreamArn}`).sort(),
    );
    for (const mapping of mappings)
      expect(mapping.Properties).toMatchObject({
        StartingPosition: 'TRIM_HORIZON',
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 100,
        MaximumRecordAgeInSeconds: 86_400,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [lid(stack.changeEvents.deadLetterQueue), 'Arn'] } } },
      });
  });

  it('invokes the publisher only for user records and for run records taking a final status', () => {
    // Prepare
    const patterns = Object.values(resources)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && render(r.Properties['FunctionName']!) === `\${${lid(stack.functions.publisher)}}`)
      .map((r) => ((r.Properties['FilterCriteria'] as { Filters: { Pattern: string }[] }).Filters ?? []).map((f) => JSON.parse(f.Pattern)));

    // Assess
    expect(patterns).toContainEqual([{ eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { sk: { S: [{ prefix: 'user#' }] } } } }]);
    expect(patterns).toContainEqual([
      {
        eventName: ['INSERT', 'MODIFY'],
        dynamodb: { Keys: { sk: { S: [{ prefix: 'run#' }] } }, NewImage: { status: { S: ['completed', 'held', 'failed'] } } },
      },
    ]);
  });

  it('opens a ticket on change events the publisher could not put on the bus, and on its first dead letter', () => {
    // Prepare
    const alarmOf = (id: string) =>
      Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties['AlarmName'] === `${config.stage}-${config.stackName}-${id}`);
    const ticketsTopic = { Ref: lid(stack.monitoring.ticketsTopic) };

    // Assess
    expect(alarmOf('ChangeEventsFailed')?.Properties).toMatchObject({
      MetricName: metricNames.changeEventsFailed,
      Namespace: importMetrics.namespace,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [ticketsTopic],
    });
    expect(alarmOf('ChangeEventDeadLetters')?.Properties).toMatchObject({ Threshold: 1, AlarmActions: [ticketsTopic] });
  });
});
