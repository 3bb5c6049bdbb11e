import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, AnyPrincipal, type IRole, PolicyDocument, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * What the account may do with a key without any statement naming it for use: manage it (describe, enable and
 * disable, rotate, tag, change its policy, schedule its deletion), never encrypt or decrypt with it, and never create
 * grants (a grant would hand out use without a trace in the key policy). Changing the key policy remains possible, as
 * it must be (AWS refuses a policy that locks the account out), and is a CloudTrail event of its own.
 */
export const keyAdminActions = [
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:Describe*',
  'kms:Get*',
  'kms:List*',
  'kms:Enable*',
  'kms:Disable*',
  'kms:Put*',
  'kms:Update*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:Revoke*',
  'kms:RetireGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
] as const;

/** What DynamoDB needs on a table's key on behalf of whoever creates, restores or uses the table. */
export const dynamoDbKeyActions = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'] as const;

interface KeysProps {
  stage: string;
}

/**
 * The stage's customer-managed keys, one per kind of data, so each key policy says who may read that kind:
 * - secrets: the tenants' Personio credentials (which open the customer's whole HR system). Only connect and fetch may
 *   use it, only through Secrets Manager, only for secrets under the stage's prefix (`TenantSecrets`).
 * - data: the users, connections, runs and audit tables (employee records, mappings, Personio and user ids, pending
 *   deactivations, who changed what). Use through DynamoDB by principals of the account that IAM allows; who may read
 *   or write the items is the tables' resource policies' business (`Tables`), as the deployer, restores and AWS Backup
 *   need the key as well.
 * - queue: the import queue and its dead-letter queue (whole employee records, 14 days in the DLQ). Only the fetch
 *   (sends), the worker (receives) and the stage's redrive roles may use it (`ImportQueue`).
 *
 * All rotate yearly and are retained when the stack goes: a deleted key makes whatever it encrypted unreadable for good
 * (the retained tables and their backups included). Their aliases name the stage: `alias/dado-<stage>-<kind>`.
 */
export class Keys extends Construct {
  readonly secrets: Key;
  readonly data: Key;
  readonly queue: Key;

  constructor(scope: Construct, id: string, props: KeysProps) {
    super(scope, id);
    const { stage } = props;
    this.secrets = this.key('Secrets', `alias/dado-${stage}-secrets`, `Dado × Personio (${stage}): tenants' Personio credentials in Secrets Manager`);
    this.data = this.key('Data', `alias/dado-${stage}-data`, `Dado × Personio (${stage}): users, connections, runs and audit tables`);
    this.queue = this.key('Queue', `alias/dado-${stage}-import-queue`, `Dado × Personio (${stage}): import queue and its dead-letter queue`);

    const { region, account } = Stack.of(this);
    this.data.addToResourcePolicy(
      new PolicyStatement({
        sid: 'UseThroughDynamoDB',
        principals: [new AccountRootPrincipal()],
        actions: [...dynamoDbKeyActions],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com`, 'kms:CallerAccount': account } },
      }),
    );
    // DynamoDB's own reads of the key's metadata (the console and DescribeTable show the key's state).
    this.data.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DynamoDBDescribesKey',
        principals: [new ServicePrincipal('dynamodb.amazonaws.com')],
        actions: ['kms:Describe*', 'kms:Get*', 'kms:List*'],
        resources: ['*'],
      }),
    );
  }

  /**
   * Lets one of the stack's roles use a key through one service, for the given actions. The role is named as the
   * principal, so the key policy alone grants it (no IAM statement needed) and names exactly who may decrypt.
   */
  static allowRole(key: Key, sid: string, role: IRole, actions: readonly string[], via: string, extra: Record<string, Record<string, unknown>> = {}): void {
    key.addToResourcePolicy(
      new PolicyStatement({
        sid,
        principals: [role],
        actions: [...actions],
        resources: ['*'],
        conditions: viaService(key, via, extra),
      }),
    );
  }

  /**
   * Lets roles outside the stack (a stage's operator roles) use a key through one service. They are matched by
   * `aws:PrincipalArn`, not named as principals: KMS refuses a policy naming a role that does not exist (yet), and
   * turns a named role that is deleted and recreated into a dangling id; a condition keeps matching the role by name.
   */
  static allowExternalRoles(key: Key, sid: string, roleArns: readonly string[], actions: readonly string[], via: string): void {
    if (roleArns.length === 0) return;
    key.addToResourcePolicy(
      new PolicyStatement({
        sid,
        principals: [new AnyPrincipal()],
        actions: [...actions],
        resources: ['*'],
        conditions: viaService(key, via, { ArnEquals: { 'aws:PrincipalArn': [...roleArns] } }),
      }),
    );
  }

  private key(id: string, alias: string, description: string): Key {
    return new Key(this, id, {
      alias,
      description,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy: RemovalPolicy.RETAIN,
      // A policy of our own: CDK's default gives the account kms:* (use included) through IAM.
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'AccountAdministersKey',
            principals: [new AccountRootPrincipal()],
            actions: [...keyAdminActions],
            resources: ['*'],
          }),
        ],
      }),
    });
  }
}

/** Conditions: only through `<service>.<region>.amazonaws.com`, only for callers of this account, plus `extra`. */
function viaService(key: Key, service: string, extra: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const { region, account } = Stack.of(key);
  const { StringEquals, ...rest } = extra;
  return {
    StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com`, 'kms:CallerAccount': account, ...StringEquals },
    ...rest,
  };
}
