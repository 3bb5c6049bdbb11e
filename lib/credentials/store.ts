import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { CodedError, errorName } from '../util/errors.js';

const storedCredentialsSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});
export type StoredCredentials = z.infer<typeof storedCredentialsSchema>;

export type CredentialsErrorCode = 'credentials_missing' | 'credentials_unreadable' | 'secrets_unavailable';

export class CredentialsError extends CodedError<CredentialsErrorCode> {
  override readonly name = 'CredentialsError';
}

/** One secret per tenant under the product's prefix; IAM scopes the functions to that prefix. */
export class CredentialsStore {
  constructor(
    private readonly client: Pick<SecretsManagerClient, 'send'>,
    private readonly prefix: string,
  ) {}

  secretName(tenantId: string): string {
    return `${this.prefix}${tenantId}`;
  }

  /** Creates the tenant's secret, or stores a new version when it exists. */
  async put(tenantId: string, credentials: StoredCredentials): Promise<{ arn: string | undefined }> {
    const name = this.secretName(tenantId);
    const SecretString = JSON.stringify(credentials);
    try {
      try {
        const created = await this.client.send(
          new CreateSecretCommand({ Name: name, SecretString, Description: `Personio API credentials of Dado tenant ${tenantId}` }),
        );
        return { arn: created.ARN };
      } catch (error) {
        if (!(error instanceof ResourceExistsException)) throw error;
        const updated = await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
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

  private wrap(error: unknown, action: string): CredentialsError {
    return new CredentialsError('secrets_unavailable', `Secrets Manager could not ${action} the credentials (${errorName(error)}).`, { cause: error });
  }
}
