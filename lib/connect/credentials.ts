import { RestoreSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CredentialsError, type CredentialsStore, type StoredCredentials } from '../credentials/store.js';
import { errorName } from '../util/errors.js';

/** The credential operations connect needs. */
export interface CredentialsVault {
  put(tenantId: string, credentials: StoredCredentials): Promise<unknown>;
  get(tenantId: string): Promise<StoredCredentials>;
  delete(tenantId: string, recoveryWindowInDays?: number): Promise<void>;
}

/** Disconnect keeps a deleted secret recoverable this long. */
export const RECOVERY_WINDOW_DAYS = 7;

const causeName = (error: CredentialsError): string | undefined => (error.cause instanceof Error ? error.cause.name : undefined);

/**
 * The tenant's secret across disconnects: a disconnect schedules the secret's deletion, and Secrets Manager
 * refuses to create a secret under a name scheduled for deletion (InvalidRequestException). Reconnecting
 * restores it and stores the new credentials as a new version; disconnecting twice is not an error.
 */
export class ConnectCredentials implements CredentialsVault {
  constructor(
    private readonly store: CredentialsStore,
    private readonly client: Pick<SecretsManagerClient, 'send'>,
  ) {}

  async put(tenantId: string, credentials: StoredCredentials): Promise<unknown> {
    try {
      return await this.store.put(tenantId, credentials);
    } catch (error) {
      if (!(error instanceof CredentialsError) || causeName(error) !== 'InvalidRequestException') throw error;
      try {
        await this.client.send(new RestoreSecretCommand({ SecretId: this.store.secretName(tenantId) }));
      } catch (restoreError) {
        throw new CredentialsError('secrets_unavailable', `Secrets Manager could not restore the credentials (${errorName(restoreError)}).`, {
          cause: restoreError,
        });
      }
      return this.store.put(tenantId, credentials);
    }
  }

  get(tenantId: string): Promise<StoredCredentials> {
    return this.store.get(tenantId);
  }

  async delete(tenantId: string, recoveryWindowInDays = RECOVERY_WINDOW_DAYS): Promise<void> {
    try {
      await this.store.delete(tenantId, recoveryWindowInDays);
    } catch (error) {
      // Already scheduled for deletion (a disconnect that was repeated, or half-finished before).
      if (error instanceof CredentialsError && causeName(error) === 'InvalidRequestException') return;
      throw error;
    }
  }
}
