import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '../../lib/config.js';
import { secretTagKeys } from '../../lib/credentials/store.js';
import { contextKeys, type DeploymentConfig, parseDeploymentConfig } from '../../infra/config.js';
import { deadLetterActions } from '../../infra/constructs/import-queue.js';
import { readerTables, tableDataActions } from '../../infra/constructs/tables.js';
import { PersonioImportStack } from '../../infra/stack.js';

// Who may read and write the HR data, whatever IAM allows them (review H2): the customer-managed keys' policies, the
// tables' and queues' resource policies, and the key connect creates secrets under, read from the synthesized template
// and evaluated for the principals that matter (the functions, the stage's reader, break-glass and redrive roles, and an
// administrator of the account with `*` on everything).

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Resource = { Type: string; Properties: Record<string, Json>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Statement = { Sid?: string; Effect: 'Allow' | 'Deny'; Principal?: Json; Action: string | string[]; Condition?: Record<string, Record<string, Json>> };

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

interface Synthesized {
  config: DeploymentConfig;
  stack: PersonioImportStack;
  resources: Record<string, Resource>;
  lid(construct: IConstruct): string;
}

function synthesize(stage: string, settings: Record<string, unknown> = {}): Synthesized {
  const stages = context[contextKeys.stages] as Record<string, Record<string, unknown>>;
  const config = parseDeploymentConfig({
    ...context,
    [contextKeys.stage]: stage,
    [contextKeys.stages]: { ...stages, [stage]: { ...stages[stage], ...settings } },
  });
  const stack = new PersonioImportStack(new App({ context }), config.stackName, { config });
  const resources = Template.fromStack(stack).toJSON()['Resources'] as Record<string, Resource>;
  const lid = (construct: IConstruct) => stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  return { config, stack, resources, lid };
}

/** Renders an intrinsic as text (`${Role.Arn}`), so ARNs from the template and role ARNs compare as strings. */
function render(value: Json): string {
  if (typeof value === 'string') return value;
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) return `\${${getAtt[0]}.${getAtt[1]}}`;
  const ref = (value as { Ref?: string }).Ref;
  if (ref) return `\${${ref}}`;
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}
const list = (value: Json | undefined): Json[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const matches = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(action);

/** Whether a resource policy's Deny statements refuse `action` to a caller (over TLS) whose principal ARN is `principal`. */
function denied(statements: Statement[], action: string, principal: string): boolean {
  return statements.some((s) => {
    if (s.Effect !== 'Deny' || !list(s.Action).some((a) => matches(String(a), action))) return false;
    return Object.entries(s.Condition ?? {}).every(([operator, condition]) => {
      if (operator === 'Bool') return condition['aws:SecureTransport'] !== 'false';
      if (operator === 'Null') return condition['aws:PrincipalArn'] === 'false';
      if (operator === 'ArnNotEquals') return !list(condition['aws:PrincipalArn']).map(render).includes(principal);
      throw new Error(`no evaluation for ${operator}`);
    });
  });
}

/** The crypto actions a key policy allows, as `principal: action via service`, the principal being a role or a `aws:PrincipalArn` condition. */
function keyUse(resource: Resource): string[] {
  const crypto = [
    'kms:Encrypt',
    'kms:Decrypt',
    'kms:ReEncryptFrom',
    'kms:ReEncryptTo',
    'kms:GenerateDataKey',
    'kms:GenerateDataKeyWithoutPlaintext',
    'kms:CreateGrant',
  ];
  const statements = (resource.Properties['KeyPolicy'] as { Statement: Statement[] }).Statement;
  return statements
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => {
      const aws = (s.Principal as { AWS?: Json } | undefined)?.AWS;
      const principals = aws === '*' ? list(s.Condition?.['ArnEquals']?.['aws:PrincipalArn']).map(render) : list(aws).map(render);
      const via = s.Condition?.['StringEquals']?.['kms:ViaService'] ?? 'anywhere';
      return crypto
        .filter((action) => list(s.Action).some((a) => matches(String(a), action)))
        .flatMap((action) => principals.map((p) => `${p}: ${action} via ${via}`));
    })
    .sort();
}

// The stage with every kind of operator role set; synthesized once for the whole file.
let prod: Synthesized;

beforeAll(() => {
  prod = synthesize('prod');
});

describe('keys, and who may use them (prod: reader, break-glass and redrive roles set)', () => {
  const role = (fn: 'connect' | 'webhook' | 'fetch' | 'refresh' | 'worker' | 'sweeper') => `\${${prod.lid(prod.stack.functions[fn].role!)}.Arn}`;

  it('are three keys, rotated yearly, kept when the stack goes, with aliases that name the stage', () => {
    // Prepare
    const { keys } = prod.stack;
    const aliases = Object.values(prod.resources).filter((r) => r.Type === 'AWS::KMS::Alias');

    // Assess
    expect(Object.values(prod.resources).filter((r) => r.Type === 'AWS::KMS::Key')).toHaveLength(3);
    for (const key of [keys.secrets, keys.data, keys.queue]) {
      const resource = prod.resources[prod.lid(key)]!;
      expect(resource.Properties).toMatchObject({ EnableKeyRotation: true, RotationPeriodInDays: 365 });
      expect([resource.DeletionPolicy, resource.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    }
    expect(aliases.map((a) => [a.Properties['AliasName'], render(a.Properties['TargetKeyId']!)]).sort()).toEqual(
      [
        ['alias/dado-prod-data', `\${${prod.lid(keys.data)}.Arn}`],
        ['alias/dado-prod-import-queue', `\${${prod.lid(keys.queue)}.Arn}`],
        ['alias/dado-prod-secrets', `\${${prod.lid(keys.secrets)}.Arn}`],
      ].sort(),
    );
  });

  it('let the account administer each key but never use it directly', () => {
    // Prepare
    const rootArn = `arn:aws:iam::${prod.config.env.account}:root`;

    // Act
    const direct = [prod.stack.keys.secrets, prod.stack.keys.data, prod.stack.keys.queue].flatMap((key) =>
      keyUse(prod.resources[prod.lid(key)]!).filter((use) => use.endsWith('via anywhere')),
    );
    const rootUse = keyUse(prod.resources[prod.lid(prod.stack.keys.secrets)]!).filter((use) => use.startsWith(rootArn));

    // Assess
    expect(direct).toEqual([]);
    expect(rootUse).toEqual([]);
  });

  it('secrets key: only connect (encrypt, decrypt), the fetch and the refresh (decrypt), through Secrets Manager, for secrets under the prefix', () => {
    // Prepare
    const { region, account } = prod.config.env;
    const sm = `secretsmanager.${region}.amazonaws.com`;
    const key = prod.resources[prod.lid(prod.stack.keys.secrets)]!;
    const statements = (key.Properties['KeyPolicy'] as { Statement: Statement[] }).Statement;

    // Assess
    expect(keyUse(key)).toEqual(
      [
        `${role('connect')}: kms:Decrypt via ${sm}`,
        `${role('connect')}: kms:Encrypt via ${sm}`,
        `${role('connect')}: kms:GenerateDataKey via ${sm}`,
        `${role('fetch')}: kms:Decrypt via ${sm}`,
        `${role('refresh')}: kms:Decrypt via ${sm}`,
      ].sort(),
    );
    for (const statement of statements.filter((s) => list(s.Action).some((a) => /Decrypt|Encrypt|GenerateDataKey/.test(String(a))))) {
      expect(statement.Condition, statement.Sid).toEqual({
        StringEquals: { 'kms:ViaService': sm, 'kms:CallerAccount': account },
        StringLike: { 'kms:EncryptionContext:SecretARN': `arn:aws:secretsmanager:${region}:${account}:secret:${prod.config.secretPrefix}*` },
      });
    }
  });

  it('data key: used through DynamoDB only, by whoever IAM and the tables’ policies let in', () => {
    // Prepare
    const { region, account } = prod.config.env;
    const key = prod.resources[prod.lid(prod.stack.keys.data)]!;

    // Act
    const use = keyUse(key);

    // Assess
    expect(new Set(use.map((u) => u.replace(/: kms:\w+/, '')))).toEqual(new Set([`arn:aws:iam::${account}:root via dynamodb.${region}.amazonaws.com`]));
  });

  it('queue key: only the fetch, the webhook receiver and the refresh (send), the worker and the refresh (receive) and the redrive roles (of both queues), through SQS', () => {
    // Prepare
    const sqs = `sqs.${prod.config.env.region}.amazonaws.com`;
    const [operator] = prod.config.redriveRoles;

    // Assess
    expect(keyUse(prod.resources[prod.lid(prod.stack.keys.queue)]!)).toEqual(
      [
        `${role('fetch')}: kms:Decrypt via ${sqs}`,
        `${role('fetch')}: kms:GenerateDataKey via ${sqs}`,
        // The refresh sends to the import queue and receives from the changes queue.
        `${role('refresh')}: kms:Decrypt via ${sqs}`,
        `${role('refresh')}: kms:Decrypt via ${sqs}`,
        `${role('refresh')}: kms:GenerateDataKey via ${sqs}`,
        `${role('webhook')}: kms:Decrypt via ${sqs}`,
        `${role('webhook')}: kms:GenerateDataKey via ${sqs}`,
        `${role('worker')}: kms:Decrypt via ${sqs}`,
        // The import queue's and the changes queue's redrives.
        `${operator}: kms:Decrypt via ${sqs}`,
        `${operator}: kms:Decrypt via ${sqs}`,
        `${operator}: kms:GenerateDataKey via ${sqs}`,
        `${operator}: kms:GenerateDataKey via ${sqs}`,
      ].sort(),
    );
  });

  it('encrypt every table with the data key and both import queues with the queue key', () => {
    // Assess
    for (const { table } of prod.stack.tables.all) {
      const properties = prod.resources[prod.lid(table)]!.Properties;
      expect(properties['SSESpecification']).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
      expect((properties['Replicas'] as { SSESpecification: Json }[])[0]?.SSESpecification).toEqual({
        KMSMasterKeyId: { 'Fn::GetAtt': [prod.lid(prod.stack.keys.data), 'Arn'] },
      });
    }
    for (const queue of [
      prod.stack.importQueue.queue,
      prod.stack.importQueue.deadLetterQueue,
      prod.stack.changesQueue.queue,
      prod.stack.changesQueue.deadLetterQueue,
    ]) {
      expect(prod.resources[prod.lid(queue)]!.Properties['KmsMasterKeyId']).toEqual({ 'Fn::GetAtt': [prod.lid(prod.stack.keys.queue), 'Arn'] });
    }
  });
});

describe('resource policies (prod)', () => {
  const functions = ['connect', 'webhook', 'fetch', 'worker', 'sweeper'] as const;
  const ADMIN = 'arn:aws:iam::222222222222:role/AdministratorAccess';

  const roleOf = (fn: (typeof functions)[number]) => `\${${prod.lid(prod.stack.functions[fn].role!)}.Arn}`;
  /** The functions whose IAM policy names the table: the ones that use it. */
  const usersOf = (tableId: string) =>
    functions.filter((fn) =>
      Object.values(prod.resources).some(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          list(r.Properties['Roles']).some((ref) => render(ref) === `\${${prod.lid(prod.stack.functions[fn].role!)}}`) &&
          JSON.stringify(r.Properties['PolicyDocument']).includes(`"${tableId}","Arn"`),
      ),
    );
  const tablePolicy = (tableId: string) =>
    ((prod.resources[tableId]!.Properties['Replicas'] as { ResourcePolicy: { PolicyDocument: { Statement: Statement[] } } }[])[0]?.ResourcePolicy.PolicyDocument
      .Statement ?? []) as Statement[];
  const queuePolicy = (queueId: string) =>
    Object.values(prod.resources)
      .filter((r) => r.Type === 'AWS::SQS::QueuePolicy' && list(r.Properties['Queues']).some((q) => render(q) === `\${${queueId}}`))
      .flatMap((r) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);

  it.each(['users', 'connections', 'runs', 'audit'] as const)(
    '%s table: only the functions that use it, the readers (reads, where allowed) and break-glass touch its items; only break-glass exports',
    (kind) => {
      // Prepare
      const tableId = prod.lid(prod.stack.tables[kind].table);
      const statements = tablePolicy(tableId);
      const users = usersOf(tableId).map(roleOf);
      const others = functions.map(roleOf).filter((r) => !users.includes(r));
      const [reader] = prod.config.readerRoles;
      const [breakGlass] = prod.config.breakGlassRoles;
      const may = (action: string, principal: string) => !denied(statements, action, principal);

      // Assess
      expect(users.length).toBeGreaterThan(0);
      for (const action of [...tableDataActions.read, ...tableDataActions.write]) {
        for (const principal of [...users, breakGlass!]) expect(may(action, principal), `${principal} ${action}`).toBe(true);
        for (const principal of [...others, ADMIN]) expect(may(action, principal), `${principal} ${action}`).toBe(false);
      }
      for (const action of tableDataActions.read) expect(may(action, reader!), action).toBe(readerTables.includes(kind));
      for (const action of tableDataActions.write) expect(may(action, reader!), action).toBe(false);
      expect([breakGlass!, ADMIN, ...users].map((p) => may('dynamodb:ExportTableToPointInTime', p))).toEqual([true, false, ...users.map(() => false)]);
      // Backups, restores and the table's own settings stay with IAM: the deployer and AWS Backup need them.
      for (const action of ['dynamodb:DescribeTable', 'dynamodb:UpdateTable', 'dynamodb:CreateBackup', 'dynamodb:RestoreTableToPointInTime']) {
        expect(may(action, ADMIN), action).toBe(true);
      }
    },
  );

  it('import queue: only the fetch and the redrive roles may send; every request needs TLS', () => {
    // Prepare
    const statements = queuePolicy(prod.lid(prod.stack.importQueue.queue));
    const [operator] = prod.config.redriveRoles;

    // Assess
    expect([roleOf('fetch'), operator!].map((p) => denied(statements, 'sqs:SendMessage', p))).toEqual([false, false]);
    expect([roleOf('worker'), roleOf('connect'), ADMIN].map((p) => denied(statements, 'sqs:SendMessage', p))).toEqual([true, true, true]);
    expect(denied(statements, 'sqs:ReceiveMessage', roleOf('worker'))).toBe(false);
    expect(statements.filter((s) => JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}').map((s) => s.Action)).toEqual(['sqs:*']);
  });

  it('changes queue: only the webhook receiver and the redrive roles may send; its dead letters only the redrive roles touch', () => {
    // Prepare
    const statements = queuePolicy(prod.lid(prod.stack.changesQueue.queue));
    const dead = queuePolicy(prod.lid(prod.stack.changesQueue.deadLetterQueue));
    const [operator] = prod.config.redriveRoles;

    // Assess
    expect([roleOf('webhook'), operator!].map((p) => denied(statements, 'sqs:SendMessage', p))).toEqual([false, false]);
    expect([roleOf('fetch'), roleOf('connect'), roleOf('worker'), ADMIN].map((p) => denied(statements, 'sqs:SendMessage', p))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    for (const principal of [operator!, roleOf('webhook'), ADMIN]) expect(denied(dead, 'sqs:SendMessage', principal), principal).toBe(true);
    for (const action of deadLetterActions) {
      expect(denied(dead, action, operator!), action).toBe(false);
      expect(denied(dead, action, ADMIN), action).toBe(true);
    }
  });

  it('dead-letter queue: no IAM principal sends to it, only the redrive roles read, delete, purge or move its messages', () => {
    // Prepare
    const statements = queuePolicy(prod.lid(prod.stack.importQueue.deadLetterQueue));
    const [operator] = prod.config.redriveRoles;

    // Assess
    for (const principal of [operator!, roleOf('worker'), roleOf('fetch'), ADMIN])
      expect(denied(statements, 'sqs:SendMessage', principal), principal).toBe(true);
    for (const action of deadLetterActions) {
      expect(denied(statements, action, operator!), action).toBe(false);
      for (const principal of [roleOf('worker'), ADMIN]) expect(denied(statements, action, principal), `${principal} ${action}`).toBe(true);
    }
    expect(denied(statements, 'sqs:GetQueueAttributes', ADMIN)).toBe(false);
  });
});

describe('a stage without reader, break-glass or redrive roles', () => {
  let staging: Synthesized;

  beforeAll(() => {
    staging = synthesize('staging', { readerRoles: [], breakGlassRoles: [], redriveRoles: [] });
  });

  it('lets no IAM principal export a table or touch dead letters, and names no operator on the queue key', () => {
    // Prepare
    const users = staging.lid(staging.stack.tables.users.table);
    const usersPolicy = (staging.resources[users]!.Properties['Replicas'] as { ResourcePolicy: { PolicyDocument: { Statement: Statement[] } } }[])[0]!
      .ResourcePolicy.PolicyDocument.Statement;
    const dlq = staging.lid(staging.stack.importQueue.deadLetterQueue);
    const dlqPolicy = Object.values(staging.resources)
      .filter((r) => r.Type === 'AWS::SQS::QueuePolicy' && list(r.Properties['Queues']).some((q) => render(q) === `\${${dlq}}`))
      .flatMap((r) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);
    const anyRole = 'arn:aws:iam::111111111111:role/anyone';

    // Assess
    expect(staging.config.breakGlassRoles).toEqual([]);
    expect(denied(usersPolicy, 'dynamodb:ExportTableToPointInTime', anyRole)).toBe(true);
    for (const action of deadLetterActions) expect(denied(dlqPolicy, action, anyRole), action).toBe(true);
    expect(keyUse(staging.resources[staging.lid(staging.stack.keys.queue)]!).filter((u) => !u.startsWith('${'))).toEqual([]);
  });
});

describe('secrets: created under the key, tagged', () => {
  it('tells connect (and only connect) the key in SECRETS_KMS_KEY_ID, and IAM lets it create or update a secret under that key only', () => {
    // Prepare
    const env = (fn: 'connect' | 'fetch' | 'worker' | 'sweeper') =>
      (prod.resources[prod.lid(prod.stack.functions[fn])]!.Properties['Environment'] as { Variables: Record<string, Json> }).Variables;
    const keyArn = { 'Fn::GetAtt': [prod.lid(prod.stack.keys.secrets), 'Arn'] };
    const statements = Object.values(prod.resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement)
      .filter((s) => list(s.Action).some((a) => a === 'secretsmanager:CreateSecret' || a === 'secretsmanager:UpdateSecret'));

    // Assess
    expect(env('connect')[envNames.secretsKmsKeyId]).toEqual(keyArn);
    for (const fn of ['fetch', 'worker', 'sweeper'] as const) expect(env(fn)).not.toHaveProperty(envNames.secretsKmsKeyId);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) expect(statement.Condition?.['StringEquals']?.['secretsmanager:KmsKeyArn']).toEqual(keyArn);
  });

  it("lets connect tag a secret with the tags the credential store sets: its tenant, and the deployment's stage", () => {
    // Prepare
    const tagging = Object.values(prod.resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement)
      .filter((s) => list(s.Action).some((a) => a === 'secretsmanager:TagResource' || a === 'secretsmanager:CreateSecret'));

    // Assess
    expect(tagging.length).toBeGreaterThanOrEqual(2);
    for (const statement of tagging) expect(statement.Condition?.['StringEquals']?.[`aws:RequestTag/${secretTagKeys.stage}`]).toBe('prod');
    const tagResource = tagging.find((s) => list(s.Action).includes('secretsmanager:TagResource'));
    expect(tagResource?.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual(Object.values(secretTagKeys));
  });
});
