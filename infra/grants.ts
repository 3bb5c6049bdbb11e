import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction, IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { type EnvName, envNames } from '../lib/config.js';
import type { ProductTable } from './constructs/tables.js';
import { type SecretAccess, TenantSecrets } from './constructs/secrets.js';
import { TenantSchedules } from './constructs/schedules.js';
import { acknowledge } from './nag.js';

/**
 * Every permission a function gets comes from one of these binders, which set the environment variable that names the
 * resource in the same call: a function cannot hold a grant without knowing what it is for, nor read a name it may
 * not use. The names are lib/config.ts's `envNames`, plus the ones below that the code does not read yet.
 */
export const extraEnvNames = {
  scheduleGroupName: 'SCHEDULE_GROUP_NAME',
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  fetchFunctionArn: 'FETCH_FUNCTION_ARN',
  fetchFunctionName: 'FETCH_FUNCTION_NAME',
  scheduleExpression: 'SCHEDULE_EXPRESSION',
  scheduleFlexibleWindowMinutes: 'SCHEDULE_FLEXIBLE_WINDOW_MINUTES',
} as const;

export type TableAccess = 'read' | 'readWrite';

/**
 * The item-level actions the stores use (lib/*\/store.ts, lib/tenants/connections.ts): Get, BatchGet, Query, Put,
 * Update, and TransactWrite (authorized per item as Put/Update/ConditionCheck). The product never deletes or scans an
 * item, so neither is granted; a store that starts to must widen this list, and the stack tests will show it.
 */
export const tableActions: Record<TableAccess, readonly string[]> = {
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
  readWrite: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
};

/** Item access on one table (and Query on each of its indexes, by name) + the table's name in `envName`. */
export function bindTable(fn: LambdaFunction, table: ProductTable, access: TableAccess, envName: EnvName): void {
  const arn = table.table.tableArn;
  fn.addToRolePolicy(new PolicyStatement({ actions: [...tableActions[access]], resources: [arn] }));
  if (table.indexNames.length > 0) {
    fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: table.indexNames.map((name) => `${arn}/index/${name}`) }));
  }
  fn.addEnvironment(envName, table.table.tableName);
}

/** SendMessage (and SendMessageBatch) on one queue + its URL in `envName`. */
export function bindQueueSender(fn: LambdaFunction, queue: IQueue, envName: EnvName): void {
  queue.grantSendMessages(fn);
  fn.addEnvironment(envName, queue.queueUrl);
}

/** Read or manage the tenants' secrets, by name prefix + the prefix in SECRET_PREFIX. */
export function bindSecrets(fn: LambdaFunction, secrets: TenantSecrets, access: SecretAccess): void {
  fn.addToRolePolicy(new PolicyStatement({ actions: [...TenantSecrets.actions[access]], resources: [secrets.arnPattern] }));
  fn.addEnvironment(envNames.secretPrefix, secrets.prefix);
  acknowledge(
    fn.role ?? fn,
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${secrets.prefix}*]`,
    `Tenant secrets are created at runtime as ${secrets.prefix}<tenantId>, and Secrets Manager appends a random suffix to each ARN; the prefix is the narrowest scope that exists.`,
  );
}

/**
 * Manage the tenants' schedules (in the product's group only) and pass the scheduler role to them (to Scheduler
 * only) + the group, the role, the target and the schedule defaults in the environment.
 */
export function bindScheduleManagement(fn: LambdaFunction, schedules: TenantSchedules): void {
  fn.addToRolePolicy(new PolicyStatement({ actions: [...TenantSchedules.manageActions], resources: [schedules.scheduleArnPattern] }));
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [schedules.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
  );
  fn.addEnvironment(extraEnvNames.scheduleGroupName, schedules.group.scheduleGroupName);
  fn.addEnvironment(extraEnvNames.schedulerRoleArn, schedules.role.roleArn);
  fn.addEnvironment(extraEnvNames.fetchFunctionArn, schedules.target.functionArn);
  fn.addEnvironment(extraEnvNames.scheduleExpression, schedules.expression);
  fn.addEnvironment(extraEnvNames.scheduleFlexibleWindowMinutes, String(schedules.flexibleWindowMinutes));
  acknowledge(
    fn.role ?? fn,
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${schedules.groupName}/*]`,
    'One schedule per tenant is created at runtime; the schedule group is the narrowest scope that exists for schedules not yet created.',
  );
}

/** Invoke one function (unqualified ARN only, no versions or aliases) + its name in `envName`. */
export function bindInvoke(fn: LambdaFunction, target: IFunction, envName: string): void {
  fn.addToRolePolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }));
  fn.addEnvironment(envName, target.functionName);
}

/** A plain setting (no grant) in the environment. */
export function setting(fn: LambdaFunction, envName: EnvName, value: string | number): void {
  fn.addEnvironment(envName, String(value));
}
