import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export type SecretAccess = 'read' | 'manage';

/**
 * The per-tenant Personio credentials. The connect function creates them at runtime (one secret per tenant, named
 * `<prefix><tenantId>`), so the stack owns no secret resource: this construct owns the name prefix and the exact
 * actions each kind of access allows. Only the principals the stack grants through `bindSecrets` get any of them.
 */
export class TenantSecrets extends Construct {
  static readonly actions: Record<SecretAccess, readonly string[]> = {
    // The fetch reads the credentials, nothing else.
    read: ['secretsmanager:GetSecretValue'],
    // connect stores and replaces them, checks for an existing one, and deletes them on disconnect.
    manage: [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:DeleteSecret',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ],
  };

  readonly prefix: string;
  /**
   * Every secret under the prefix. The trailing `*` is inherent: the tenant id follows the prefix, and Secrets
   * Manager appends `-` and six random characters to every secret's ARN.
   */
  readonly arnPattern: string;

  constructor(scope: Construct, id: string, props: { prefix: string }) {
    super(scope, id);
    this.prefix = props.prefix;
    this.arnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${props.prefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}
