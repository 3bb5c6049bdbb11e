import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { CodedError, errorName } from '../util/errors.js';

const storedCredentialsSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  // The token of the tenant's registered Personio webhook (connect); secrets stored before webhooks have none.
  webhookToken: z.string().min(1).optional(),
});
export type StoredCredentials = z.infer<typeof storedCredentialsSchema>;

export type CredentialsErrorCode = 'credentials_missing' | 'credentials_unreadable' | 'secrets_unavailable';

export class CredentialsError extends CodedError<CredentialsErrorCode> {
  override readonly name = 'CredentialsError';
}

/** The tags every tenant secret carries: inventory and attribute-based access by tenant and stage. */
export const secretTagKeys = { tenant: 'dado:tenant', stage: 'dado:stage' } as const;

/**
 * Where a writer puts a tenant's secret: under the stage's customer-managed key (an id, ARN or alias; IAM allows
 * connect to create or update a secret only under that key), tagged with the tenant and the stage. Readers need none:
 * Secrets Manager knows each secret's key.
 */
export interface SecretPlacement {
  kmsKeyId: string;
  stage: string;
}

/** One secret per tenant under the product's prefix; IAM scopes the functions to that prefix. */
export class CredentialsStore {
  constructor(
    private readonly client: Pick<SecretsManagerClient, 'send'>,
    private readonly prefix: string,
    private readonly placement?: SecretPlacement,
  ) {}

  secretName(tenantId: string): string {
    return `${this.prefix}${tenantId}`;
  }

  /**
   * Creates the tenant's secret, or stores a new version when it exists. An existing secret is also moved onto the
   * placement's key in the same call (Secrets Manager re-encrypts its current and previous versions with it) and
   * tagged: secrets created before the stage had its key (under the AWS-managed `aws/secretsmanager`) move as their
   * tenants next connect, and the one-off command in the runbook moves the rest.
   */
  async put(tenantId: string, credentials: StoredCredentials): Promise<{ arn: string | undefined }> {
    const name = this.secretName(tenantId);
    const SecretString = JSON.stringify(credentials);
    const key = this.placement ? { KmsKeyId: this.placement.kmsKeyId } : {};
    const tags = this.placement ? { Tags: this.tags(tenantId, this.placement.stage) } : undefined;
    try {
      try {
        const created = await this.client.send(
          new CreateSecretCommand({ Name: name, SecretString, Description: `Personio API credentials of Dado tenant ${tenantId}`, ...key, ...tags }),
        );
        return { arn: created.ARN };
      } catch (error) {
        if (!(error instanceof ResourceExistsException)) throw error;
        const updated = await this.client.send(new UpdateSecretCommand({ SecretId: name, SecretString, ...key }));
        if (tags) await this.client.send(new TagResourceCommand({ SecretId: name, ...tags }));
        return { arn: updated.ARN };
      }
    } catch (error) {
      throw this.wrap(error, 'store');
    }
  }

  async get(tenantId: string): Promise<StoredCredentials> {
    let text: string | undefined;
    try {
      const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretName(tenantId) }));
      text = result.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new CredentialsError('credentials_missing', `No Personio credentials are stored for tenant ${tenantId}.`);
      }
      throw this.wrap(error, 'read');
    }
    let json: unknown;
    try {
      json = JSON.parse(text ?? '');
    } catch {
      json = undefined;
    }
    const parsed = storedCredentialsSchema.safeParse(json);
    // Never echo the secret's content: only say that it is unusable.
    if (!parsed.success) throw new CredentialsError('credentials_unreadable', `The stored Personio credentials of tenant ${tenantId} are unreadable.`);
    return parsed.data;
  }

  /** Schedules deletion with Secrets Manager's recovery window, so a mistaken disconnect can be undone. */
  async delete(tenantId: string, recoveryWindowInDays = 7): Promise<void> {
    try {
      await this.client.send(new DeleteSecretCommand({ SecretId: this.secretName(tenantId), RecoveryWindowInDays: recoveryWindowInDays }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      throw this.wrap(error, 'delete');
    }
  }

  private tags(tenantId: string, stage: string): { Key: string; Value: string }[] {
    return [
      { Key: secretTagKeys.tenant, Value: tenantId },
      { Key: secretTagKeys.stage, Value: stage },
    ];
  }

  private wrap(error: unknown, action: string): CredentialsError {
    return new CredentialsError('secrets_unavailable', `Secrets Manager could not ${action} the credentials (${errorName(error)}).`, { cause: error });
  }
}
