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
    // connect (lib/credentials/store.ts, lib/connect/credentials.ts): creates a tenant's secret or stores a new
    // version when it exists, reads it (attributes, mapping preview), schedules its deletion on disconnect (recovery
    // window), and restores one scheduled for deletion when the tenant reconnects.
    manage: [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:GetSecretValue',
      'secretsmanager:DeleteSecret',
      'secretsmanager:RestoreSecret',
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
