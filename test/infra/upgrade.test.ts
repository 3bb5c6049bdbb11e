import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeploymentConfig, parseDeploymentConfig, type StageLock } from '../../infra/config.js';
import { fetchFunctionName } from '../../infra/constructs/functions.js';
import { schedulerRoleName } from '../../infra/constructs/schedules.js';
import { protectedResources } from '../../infra/diff-guard.js';
import { PersonioImportStack } from '../../infra/stack.js';

// Upgrade safety (review H4): CloudFormation knows a resource by its logical id, which CDK derives from the construct
// path. Rename a construct id, and the next deploy creates a new resource and deletes (or orphans) the old one. For
// these resources that means lost data or broken references, so their ids are pinned here, literally, for both
// committed stages. A failure here is the moment to restore the id, not to update the pin.

type Resource = { Type: string; Properties?: Record<string, unknown> };

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const locks = JSON.parse(readFileSync(new URL('../../infra/stages.lock.json', import.meta.url), 'utf8')) as Record<string, StageLock>;

const consequences = {
  table:
    'create a new, empty table and point the functions at it; the old one is orphaned (retained) or deleted with all its items, and the next import recreates every user with new ids',
  queue: 'create a new, empty queue; the messages in the old one (imports in flight, dead letters awaiting a redrive) are lost with it',
  key: 'create a new key; what the old key encrypted (tenant secrets, table items, queued messages) is unreadable once the old key is deleted',
  group: "delete the old schedule group, and every tenant's schedule with it",
  fetch: "replace the fetch function: every tenant schedule names the old function's ARN until the sweeper repairs it",
  role: "replace the scheduler role: every tenant schedule names the old role's ARN until the sweeper repairs it",
  topic: 'create a new alarm topic without the subscriptions made outside the stack: alarms stop reaching on-call',
  bus: "create a new event bus without the rules Dado's services attached to it: they stop receiving user change events",
  archive: 'create a new, empty archive: the change events kept for replay are lost',
  api: "create a new HTTP API with a new URL and ARN: Dado's backend calls one that is gone",
  webhookApi:
    "create a new HTTP API with a new URL: every tenant's webhook registered in Personio points at the old one, and deliveries fail until each tenant reconnects",
} as const;

/** The pinned logical ids: the same in every stage (ids derive from construct paths below the stack). */
const pinned: Record<string, { type: string; what: string; consequence: keyof typeof consequences }> = {
  TablesUsersBA34CAA2: { type: 'AWS::DynamoDB::GlobalTable', what: 'the users table', consequence: 'table' },
  TablesConnectionsF6D675B1: { type: 'AWS::DynamoDB::GlobalTable', what: 'the connections table', consequence: 'table' },
  TablesRunsB40D77DF: { type: 'AWS::DynamoDB::GlobalTable', what: 'the runs table', consequence: 'table' },
  TablesAuditCEFF9E0F: { type: 'AWS::DynamoDB::GlobalTable', what: 'the audit table', consequence: 'table' },
  ImportQueueF3D6FFB8: { type: 'AWS::SQS::Queue', what: 'the import queue', consequence: 'queue' },
  ImportQueueDeadLetterQueue55B282B3: { type: 'AWS::SQS::Queue', what: "the import queue's dead-letter queue", consequence: 'queue' },
  ChangesQueue0CBAF625: { type: 'AWS::SQS::Queue', what: 'the changes queue', consequence: 'queue' },
  ChangesQueueDeadLetterQueueE9579C76: { type: 'AWS::SQS::Queue', what: "the changes queue's dead-letter queue", consequence: 'queue' },
  ChangeEventsDeadLetterQueue0A8F8C68: { type: 'AWS::SQS::Queue', what: "the change events publisher's dead-letter queue", consequence: 'queue' },
  ChangeEventsBusC56CFA50: { type: 'AWS::Events::EventBus', what: 'the change events bus', consequence: 'bus' },
  ChangeEventsBusArchiveABDBF870: { type: 'AWS::Events::Archive', what: "the change events bus's archive", consequence: 'archive' },
  FunctionsFetchDeadLetterQueueC9109492: { type: 'AWS::SQS::Queue', what: "the fetch's dead-letter queue", consequence: 'queue' },
  KeysSecretsC2A8CD45: { type: 'AWS::KMS::Key', what: 'the key of the tenant secrets', consequence: 'key' },
  KeysDataA2F7C5E6: { type: 'AWS::KMS::Key', what: 'the key of the tables', consequence: 'key' },
  KeysQueue04F89579: { type: 'AWS::KMS::Key', what: 'the key of the import queues', consequence: 'key' },
  SchedulesGroupD276B6F4: { type: 'AWS::Scheduler::ScheduleGroup', what: 'the tenant schedule group', consequence: 'group' },
  FunctionsFetch40CC01F5: { type: 'AWS::Lambda::Function', what: 'the fetch function', consequence: 'fetch' },
  SchedulesSchedulerRole7E9E230C: { type: 'AWS::IAM::Role', what: 'the scheduler role', consequence: 'role' },
  MonitoringTopicsPaging5350046D: { type: 'AWS::SNS::Topic', what: 'the paging alarm topic', consequence: 'topic' },
  MonitoringTopicsTickets1C85CE72: { type: 'AWS::SNS::Topic', what: 'the ticket alarm topic', consequence: 'topic' },
  ConnectApi5B92EE70: { type: 'AWS::ApiGatewayV2::Api', what: 'the connect HTTP API', consequence: 'api' },
  WebhookApi510A0CAB: { type: 'AWS::ApiGatewayV2::Api', what: 'the public webhook HTTP API (its URL is registered in Personio)', consequence: 'webhookApi' },
};

/** Every resource of these types holds state or is referenced from outside the stack: each must be pinned. */
const stateful = [
  'AWS::DynamoDB::GlobalTable',
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
  'AWS::KMS::Key',
  'AWS::Scheduler::ScheduleGroup',
  'AWS::SNS::Topic',
  'AWS::ApiGatewayV2::Api',
  'AWS::Events::EventBus',
  'AWS::Events::Archive',
];

/** Fixed physical names (their ARNs are stored in every tenant schedule at runtime). */
const physicalNames = {
  staging: {
    fetch: 'DadoPersonioImport-staging-fetch',
    schedulerRole: 'DadoPersonioImport-staging-scheduler-eu-central-1',
    group: 'DadoPersonioImport-staging',
  },
  prod: { fetch: 'DadoPersonioImport-fetch', schedulerRole: 'DadoPersonioImport-scheduler-eu-central-1', group: 'DadoPersonioImport' },
} as const;

const keySchema = (hash: string, range?: string) => [{ AttributeName: hash, KeyType: 'HASH' }, ...(range ? [{ AttributeName: range, KeyType: 'RANGE' }] : [])];

describe.each(['staging', 'prod'] as const)('upgrading the %s stage', (stage) => {
  let config: DeploymentConfig;
  let resources: Record<string, Resource>;

  beforeAll(() => {
    // Prepare: the stage's stack as `cdk synth -c dado:stage=<stage>` builds it (bundling skipped: ids do not depend on it)
    const stageContext = { ...context, 'dado:stage': stage };
    config = parseDeploymentConfig(stageContext, locks);
    const app = new App({ context: { ...stageContext, 'aws:cdk:bundling-stacks': [] } });
    const stack = new PersonioImportStack(app, config.stackName, { config });
    resources = Template.fromStack(stack).toJSON()['Resources'] as Record<string, Resource>;
  });

  it('keeps the logical id and type of every stateful or externally referenced resource', () => {
    for (const [id, { type, what, consequence }] of Object.entries(pinned))
      expect(
        resources[id]?.Type,
        `${id} (${what}) is gone from the ${stage} template. A construct id on its path was renamed or moved, and the next deploy would ` +
          `${consequences[consequence]}. Restore the construct id; if the move is intended, see "Replacing a protected resource" in infra/README.md.`,
      ).toBe(type);
  });

  it('pins every resource of a stateful type, so that a new one cannot be renamed unnoticed later', () => {
    // Act
    const unpinned = Object.entries(resources)
      .filter(([id, r]) => stateful.includes(r.Type) && !(id in pinned))
      .map(([id, r]) => `${id} (${r.Type})`);

    // Assess
    expect(unpinned, 'new stateful resources: pin their logical ids in test/infra/upgrade.test.ts (and check infra/diff-guard.ts protects their type)').toEqual(
      [],
    );
  });

  it('keeps the key schema of every table: a changed key replaces the table (a new, empty one)', () => {
    // Prepare
    const table = (id: string) => resources[id]?.Properties as { KeySchema: unknown; GlobalSecondaryIndexes?: { IndexName: string; KeySchema: unknown }[] };

    // Assess
    expect(table('TablesUsersBA34CAA2').KeySchema).toEqual(keySchema('tenantId', 'sk'));
    expect(table('TablesUsersBA34CAA2').GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.KeySchema])).toEqual([
      ['byEmail', keySchema('tenantId', 'emailKey')],
    ]);
    expect(table('TablesConnectionsF6D675B1').KeySchema).toEqual(keySchema('tenantId'));
    expect(table('TablesRunsB40D77DF').KeySchema).toEqual(keySchema('tenantId', 'sk'));
    expect(table('TablesAuditCEFF9E0F').KeySchema).toEqual(keySchema('tenantId', 'sk'));
  });

  it('names the fetch function and the scheduler role, whose ARNs every tenant schedule stores, by stack and region', () => {
    // Assess: names, not generated ones that change with the construct tree; the role's includes the region (IAM is global)
    expect(resources['FunctionsFetch40CC01F5']?.Properties?.['FunctionName']).toBe(physicalNames[stage].fetch);
    expect(resources['SchedulesSchedulerRole7E9E230C']?.Properties?.['RoleName']).toBe(physicalNames[stage].schedulerRole);
    expect(resources['SchedulesGroupD276B6F4']?.Properties?.['Name']).toBe(physicalNames[stage].group);
  });

  it('is guarded at deploy time too: npm run diff protects every pinned resource', () => {
    // Act
    const unguarded = Object.entries(pinned).filter(
      ([id, { type }]) =>
        !protectedResources.some((r) => r.type === type && ((r.path === undefined && r.logicalId === undefined) || r.logicalId?.test(id) === true)),
    );

    // Assess
    expect(unguarded.map(([id]) => id)).toEqual([]);
  });
});

describe('fixed names that would not fit', () => {
  it("refuses a stack name too long for Lambda's 64 characters or IAM's, naming the limit", () => {
    expect(() => fetchFunctionName('A'.repeat(59))).toThrow(/at most 58/);
    expect(fetchFunctionName('A'.repeat(58))).toHaveLength(64);
    expect(() => schedulerRoleName('A'.repeat(42), 'eu-central-1')).toThrow(/at most 41/);
    expect(schedulerRoleName('A'.repeat(41), 'eu-central-1')).toHaveLength(64);
  });
});
