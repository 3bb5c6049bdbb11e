import { Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction, IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { type EnvName, envNames } from '../lib/config.js';
import { connectionKeys } from '../lib/storage/tables.js';
import type { ChangesQueue } from './constructs/changes-queue.js';
import type { ImportQueue } from './constructs/import-queue.js';
import type { ProductTable } from './constructs/tables.js';
import type { SecretAccess, TenantSecrets } from './constructs/secrets.js';
import { TenantSchedules } from './constructs/schedules.js';
import { acknowledge } from './nag.js';

/**
 * Every permission a function gets comes from one of these binders, which set the environment variable that names the
 * resource in the same call: a function cannot hold a grant without knowing what it is for, nor read a name it may
 * not use. The names are lib/config.ts's `envNames`, the ones the functions' `loadConfig([...])` reads.
 */

/**
 * What a function may do on a table: item actions on the table, and whether it may Query the table's indexes.
 * - read / readWrite: the item-level actions the stores use (lib/*\/store.ts, lib/tenants/connections.ts): Get,
 *   BatchGet, Query, Put, Update, and TransactWrite (authorized per item as Put/Update/ConditionCheck), with Query on
 *   every index (the users' email index: creating or linking a user looks it up by email).
 * - sweep: the sweeper on the connections table, and the product's only Scan. It finds the tenants that point at a
 *   current run or a run being approved (lib/tenants/connections.ts `withOpenRuns`: a Scan projected to four attributes and filtered on
 *   `activeRunId` or `approvingRunId`; a tenant-keyed table has no key to Query "every tenant" by, and the table holds one small item
 *   per tenant, read every sweep period) and frees a tenant whose run is final (`releaseRun`: a conditional
 *   UpdateItem). It never reads a connection's mapping by key, creates or changes settings.
 * The product never deletes an item, and only the sweeper scans (one table); code that starts to must widen a profile
 * here, and the stack tests will show it.
 */
export type TableAccess = 'read' | 'readWrite' | 'sweep';

export const tableAccess: Record<TableAccess, { readonly actions: readonly string[]; readonly indexes: boolean }> = {
  read: { actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'], indexes: true },
  readWrite: {
    actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    indexes: true,
  },
  // GetItem: settling a stalled approval reads the tenant's connection (lib/runs/settle.ts).
  sweep: { actions: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'], indexes: false },
};

/**
 * The tables' key, which DynamoDB uses on behalf of each caller (the key policy lets IAM decide who, through DynamoDB
 * only): decrypting the table's key for reads, and, as CDK's own table grants do, encrypting for writes. Named one by
 * one, no `*`.
 */
export const tableKeyActions = { read: ['kms:Decrypt', 'kms:DescribeKey'], write: ['kms:Encrypt', 'kms:GenerateDataKey'] } as const;

/**
 * Item access on one table (and, if the access allows, Query on each of its indexes, by name), the use of its key, and
 * a way past its resource policy + the table's name in `envName`.
 */
export function bindTable(fn: LambdaFunction, table: ProductTable, access: TableAccess, envName: EnvName): void {
  const arn = table.table.tableArn;
  const { actions, indexes } = tableAccess[access];
  fn.addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: [arn] }));
  if (indexes && table.indexNames.length > 0) {
    fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: table.indexNames.map((name) => `${arn}/index/${name}`) }));
  }
  const keyActions = access === 'read' ? tableKeyActions.read : [...tableKeyActions.read, ...tableKeyActions.write];
  fn.addToRolePolicy(new PolicyStatement({ actions: [...keyActions], resources: [table.key.keyArn] }));
  table.admit(role(fn));
  fn.addEnvironment(envName, table.table.tableName);
}

/**
 * SendMessage (and SendMessageBatch) on the import queue, encrypting with its key, and a way past its resource policy
 * + its URL in `envName`.
 */
export function bindQueueSender(fn: LambdaFunction, importQueue: ImportQueue, envName: EnvName): void {
  const { queue, key } = importQueue;
  fn.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], resources: [queue.queueArn] }));
  fn.addToRolePolicy(new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }));
  importQueue.allowSender(role(fn));
  fn.addEnvironment(envName, queue.queueUrl);
}

/**
 * ChangeMessageVisibility on the queue a function consumes + its URL in `envName`: the worker retries a message that
 * failed transiently within seconds instead of after the visibility timeout (functions/worker.ts). The event source
 * mapping's consume grant includes this action already; granting it here as well keeps it if the mapping's grant
 * ever changes, and the policy minimizer (@aws-cdk/aws-iam:minimizePolicies) merges the two.
 */
export function bindQueueVisibility(fn: LambdaFunction, queue: IQueue, envName: EnvName): void {
  queue.grant(fn, 'sqs:ChangeMessageVisibility');
  fn.addEnvironment(envName, queue.queueUrl);
}

/**
 * SendMessage on the changes queue, encrypting with its key, and a way past its resource policy + its URL in
 * CHANGES_QUEUE_URL. SendMessage only: the receiver queues one change per delivery.
 */
export function bindChangesSender(fn: LambdaFunction, changesQueue: ChangesQueue): void {
  const { queue, key } = changesQueue;
  fn.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
  fn.addToRolePolicy(new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }));
  changesQueue.allowSender(role(fn));
  fn.addEnvironment(envNames.changesQueueUrl, queue.queueUrl);
}

/**
 * The webhook receiver on the tables (lib/webhooks): on connections, GetItem (the tenant's webhook state) and an
 * UpdateItem that may touch the `webhooks` attribute only (recording the tenant's Personio company); on runs, GetItem
 * and PutItem (its dedupe items: read before the change is queued, written after, so that no failure in between loses
 * it). Their key, a way past their resource policies + their names in the environment.
 */
export function bindWebhookTables(fn: LambdaFunction, connections: ProductTable, runs: ProductTable): void {
  fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [connections.table.tableArn] }));
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['dynamodb:UpdateItem'],
      resources: [connections.table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [connectionKeys.partition, 'webhooks'] },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] },
      },
    }),
  );
  fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [runs.table.tableArn] }));
  const keys = new Set([connections.key, runs.key]);
  fn.addToRolePolicy(new PolicyStatement({ actions: [...tableKeyActions.read, ...tableKeyActions.write], resources: [...keys].map((k) => k.keyArn) }));
  connections.admit(role(fn));
  runs.admit(role(fn));
  fn.addEnvironment(envNames.connectionsTable, connections.table.tableName);
  fn.addEnvironment(envNames.runsTable, runs.table.tableName);
}

/**
 * Read or manage the tenants' secrets, by name prefix, and use their key (its policy names the role) + the prefix in
 * SECRET_PREFIX, and for managing, the key new secrets are created under in SECRETS_KMS_KEY_ID.
 */
export function bindSecrets(fn: LambdaFunction, secrets: TenantSecrets, access: SecretAccess): void {
  for (const statement of secrets.statements(access)) fn.addToRolePolicy(statement);
  secrets.allowKeyUse(role(fn), access);
  fn.addEnvironment(envNames.secretPrefix, secrets.prefix);
  if (access === 'manage') fn.addEnvironment(envNames.secretsKmsKeyId, secrets.key.keyArn);
  acknowledge(
    fn.role ?? fn,
    `AwsSolutions-IAM5[Resource::${nagArn(fn, 'secretsmanager', `secret:${secrets.prefix}*`)}]`,
    `Tenant secrets are created at runtime as ${secrets.prefix}<tenantId>, and Secrets Manager appends a random suffix to each ARN; the prefix is the narrowest scope that exists.`,
  );
}

/**
 * Manage the tenants' schedules (in the product's group only) and pass the scheduler role to them (to Scheduler
 * only) + the group, the role, the target and the schedule defaults in the environment.
 */
export function bindScheduleManagement(fn: LambdaFunction, schedules: TenantSchedules): void {
  fn.addToRolePolicy(new PolicyStatement({ actions: [...TenantSchedules.manageActions], resources: [schedules.scheduleArnPattern] }));
  passSchedulerRole(fn, schedules);
  fn.addEnvironment(envNames.scheduleExpression, schedules.expression);
  fn.addEnvironment(envNames.scheduleFlexibleWindowMinutes, String(schedules.flexibleWindowMinutes));
  acknowledge(
    fn.role ?? fn,
    `AwsSolutions-IAM5[Resource::${nagArn(fn, 'scheduler', `schedule/${schedules.groupName}/*`)}]`,
    'One schedule per tenant is created at runtime; the schedule group is the narrowest scope that exists for schedules not yet created.',
  );
}

/** The scheduler role may be passed (to Scheduler only) + the group, the role and the target a schedule must name. */
function passSchedulerRole(fn: LambdaFunction, schedules: TenantSchedules): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [schedules.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
  );
  fn.addEnvironment(envNames.scheduleGroupName, schedules.group.scheduleGroupName);
  fn.addEnvironment(envNames.schedulerRoleArn, schedules.role.roleArn);
  fn.addEnvironment(envNames.fetchFunctionArn, schedules.target.functionArn);
}

/**
 * Repair the tenants' schedules (lib/schedules/repair.ts): list them, read and update those in the product's group,
 * pass the scheduler role to them (to Scheduler only) + the group, the role and the target they must name. No create
 * or delete: the repair only points existing schedules back at the current fetch and role.
 */
export function bindScheduleRepair(fn: LambdaFunction, schedules: TenantSchedules): void {
  // ListSchedules supports no resource-level permissions; the code filters by group itself (GroupName).
  fn.addToRolePolicy(new PolicyStatement({ actions: ['scheduler:ListSchedules'], resources: ['*'] }));
  fn.addToRolePolicy(new PolicyStatement({ actions: [...TenantSchedules.repairActions], resources: [schedules.scheduleArnPattern] }));
  passSchedulerRole(fn, schedules);
  acknowledge(
    fn.role ?? fn,
    `AwsSolutions-IAM5[Resource::${nagArn(fn, 'scheduler', `schedule/${schedules.groupName}/*`)}]`,
    'The schedules repaired are the tenants’ own, created at runtime; the schedule group is the narrowest scope that exists for them.',
  );
  acknowledge(
    fn.role ?? fn,
    'AwsSolutions-IAM5[Resource::*]',
    'scheduler:ListSchedules supports no resource-level permissions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html); X-Ray likewise. Reads and updates stay on the group’s schedules.',
  );
}

/** Invoke one function (unqualified ARN only, no versions or aliases) + its name in `envName`. */
export function bindInvoke(fn: LambdaFunction, target: IFunction, envName: EnvName): void {
  fn.addToRolePolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }));
  fn.addEnvironment(envName, target.functionName);
}

/** A plain setting (no grant) in the environment. */
export function setting(fn: LambdaFunction, envName: EnvName, value: string | number): void {
  fn.addEnvironment(envName, String(value));
}

function role(fn: LambdaFunction): IRole {
  if (!fn.role) throw new Error(`${fn.node.path} has no role: the resource policies and key policies name its role.`);
  return fn.role;
}

/**
 * An ARN as cdk-nag names it in a finding: the stack's partition, region and account as literals when the stage sets
 * them (`env`), as `<AWS::…>` placeholders when it does not (a stack synthesized without `env`, as some tests do).
 */
function nagArn(scope: IConstruct, service: string, resource: string): string {
  const stack = Stack.of(scope);
  const part = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  return `arn:${part(stack.partition, 'Partition')}:${service}:${part(stack.region, 'Region')}:${part(stack.account, 'AccountId')}:${resource}`;
}
