import { ArnFormat, Stack } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { secretTagKeys } from '../../lib/credentials/store.js';
import { Keys } from './keys.js';

export type SecretAccess = 'read' | 'manage';

interface TenantSecretsProps {
  prefix: string;
  /** The key every tenant secret is encrypted with (`Keys.secrets`). */
  key: Key;
  /** The stage every secret is tagged with. */
  stage: string;
}

/**
 * The per-tenant Personio credentials. The connect function creates them at runtime (one secret per tenant, named
 * `<prefix><tenantId>`, encrypted with the stage's secrets key, tagged with the tenant and the stage), so the stack
 * owns no secret resource: this construct owns the name prefix, the key, and what each kind of access allows, on the
 * secrets (IAM) and on the key (its policy). Only the roles the stack grants through `bindSecrets` get any of it.
 */
export class TenantSecrets extends Construct {
  readonly prefix: string;
  readonly key: Key;
  readonly stage: string;
  /**
   * Every secret under the prefix. The trailing `*` is inherent: the tenant id follows the prefix, and Secrets
   * Manager appends `-` and six random characters to every secret's ARN.
   */
  readonly arnPattern: string;

  constructor(scope: Construct, id: string, props: TenantSecretsProps) {
    super(scope, id);
    this.prefix = props.prefix;
    this.key = props.key;
    this.stage = props.stage;
    this.arnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${props.prefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * The IAM statements of an access, on the secrets under the prefix:
   * - read (the fetch): read the credentials, nothing else.
   * - manage (connect: lib/credentials/store.ts, lib/connect/credentials.ts): create a tenant's secret, or store a new
   *   version when it exists (UpdateSecret, which also moves a secret created before the key existed onto it), always
   *   under the stage's key (a create or update naming no key, or another, is refused); tag it with its tenant and the
   *   stage only; read it (attributes, mapping preview); schedule its deletion on disconnect (recovery window); restore
   *   one scheduled for deletion when the tenant reconnects.
   */
  statements(access: SecretAccess): PolicyStatement[] {
    const resources = [this.arnPattern];
    if (access === 'read') return [new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources })];
    const underKey = { 'secretsmanager:KmsKeyArn': this.key.keyArn };
    return [
      new PolicyStatement({
        actions: ['secretsmanager:CreateSecret'],
        resources,
        conditions: { StringEquals: { ...underKey, [`aws:RequestTag/${secretTagKeys.stage}`]: this.stage } },
      }),
      new PolicyStatement({ actions: ['secretsmanager:UpdateSecret'], resources, conditions: { StringEquals: underKey } }),
      new PolicyStatement({
        actions: ['secretsmanager:TagResource'],
        resources,
        conditions: {
          StringEquals: { [`aws:RequestTag/${secretTagKeys.stage}`]: this.stage },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [secretTagKeys.tenant, secretTagKeys.stage] },
        },
      }),
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DeleteSecret', 'secretsmanager:RestoreSecret'], resources }),
    ];
  }

  /**
   * Lets a role use the secrets key, through Secrets Manager and for secrets under the prefix only (Secrets Manager
   * puts the secret's ARN in the encryption context of every call): connect encrypts new versions (GenerateDataKey),
   * re-encrypts a secret's older versions when it moves the secret onto the key (Encrypt) and reads them (Decrypt);
   * the fetch only reads them.
   */
  allowKeyUse(role: IRole, access: SecretAccess): void {
    const ownSecrets = { StringLike: { 'kms:EncryptionContext:SecretARN': this.arnPattern } };
    // Statement ids name the role (a policy's ids must be unique).
    const sid = (what: string) => `${role.node.id.replace(/[^A-Za-z0-9]/g, '')}${what}`;
    if (access === 'read') {
      Keys.allowRole(this.key, sid('ReadsTenantSecrets'), role, ['kms:Decrypt'], 'secretsmanager', ownSecrets);
      return;
    }
    Keys.allowRole(this.key, sid('StoresTenantSecrets'), role, ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], 'secretsmanager', ownSecrets);
    // Secrets Manager resolves and checks the key a create or update names; no encryption context there.
    Keys.allowRole(this.key, sid('DescribesSecretsKey'), role, ['kms:DescribeKey'], 'secretsmanager');
  }
}
