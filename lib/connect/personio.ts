import { CredentialsError } from '../credentials/store.js';
import { PersonioClient, type PersonioCredentials } from '../personio/client.js';
import { PersonioError } from '../personio/errors.js';
import type { AttributeInfo } from '../personio/schemas.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';

/** API Gateway answers after 30 s: keep Personio's part well inside that. */
const PERSONIO_BUDGET_MS = 20_000;

export interface AttributeView {
  key: string;
  label: string;
  type: string;
  universalId: string | null;
  options: string[];
}

/** When a request's Personio calls must be done: a connect's v1 checks and its webhook calls share one budget. */
export function personioDeadline(deps: Pick<ConnectDeps, 'now'>): number {
  return deps.now().getTime() + PERSONIO_BUDGET_MS;
}

export function personioClient(
  deps: Pick<ConnectDeps, 'personio' | 'now'>,
  credentials: PersonioCredentials,
  deadline = personioDeadline(deps),
): PersonioClient {
  return new PersonioClient({ ...deps.personio, credentials, deadline, retryLimit: 2 });
}

/**
 * The attributes the credential can read: Personio's attribute list, plus what one employee carries that the
 * list left out (Personio's list is not always complete). Reading one employee also proves the credential
 * can read employees, not just authenticate.
 */
export async function readableAttributes(client: PersonioClient): Promise<AttributeInfo[]> {
  await client.authenticate();
  const attributes = await client.listAttributes();
  const sample = await client.listEmployees({ limit: 1, offset: 0 });
  const known = new Set(attributes.map((a) => a.key));
  const extra = Object.entries(sample.data[0]?.attributes ?? {})
    .filter(([key]) => !known.has(key))
    .map(([key, a]) => ({ key, label: a.label ?? key, type: a.type ?? 'standard', universal_id: a.universal_id ?? null, options: [] }));
  return [...attributes, ...extra];
}

export const toAttributeView = (a: AttributeInfo): AttributeView => ({
  key: a.key,
  label: a.label,
  type: a.type,
  universalId: a.universal_id,
  options: a.options,
});

/**
 * What a Personio or Secrets Manager failure means for the admin. `stored`: the credentials came from the
 * tenant's secret (they worked before), so a refusal means they were rotated or revoked in Personio.
 */
export function toConnectError(error: unknown, tenantId: string, credentials: 'given' | 'stored'): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof PersonioError) {
    switch (error.code) {
      case 'invalid_credentials':
        return credentials === 'given'
          ? new ConnectError(
              'invalid_credentials',
              'Personio rejected the Client ID or Client Secret. Check both in Personio under Settings → Integrations → API credentials.',
            )
          : new ConnectError(
              'invalid_credentials',
              `Personio no longer accepts the stored credentials of tenant ${tenantId} (rotated or revoked in Personio). Connect again with valid ones: PUT /tenants/${tenantId}/personio.`,
            );
      case 'forbidden':
        return new ConnectError(
          'invalid_credentials',
          'Personio accepted the credentials but refuses to list employees with them: give the credential read access to employees.',
        );
      case 'rate_limited':
        return new ConnectError('personio_rate_limited', 'Personio is rate-limiting this credential; try again in a minute.');
      default:
        return new ConnectError(
          'personio_unavailable',
          `Personio could not be reached or answered unexpectedly (${error.code}); nothing was stored. Try again later.`,
        );
    }
  }
  if (error instanceof CredentialsError) {
    if (error.code === 'credentials_missing') {
      return new ConnectError('not_connected', `No Personio credentials are stored for tenant ${tenantId}. Connect with PUT /tenants/${tenantId}/personio.`);
    }
    if (error.code === 'credentials_unreadable') {
      return new ConnectError(
        'invalid_credentials',
        `The stored Personio credentials of tenant ${tenantId} are unusable. Connect again: PUT /tenants/${tenantId}/personio.`,
      );
    }
    return new ConnectError('secrets_unavailable', 'Secrets Manager could not be reached; nothing was changed. Try again later.');
  }
  throw error;
}

/**
 * Runs a Personio call with the tenant's stored credentials. When Personio refuses them, the connection's
 * status becomes `invalid_credentials`, as when an import finds them refused.
 */
export async function withStoredCredentials<T>(deps: ConnectDeps, tenantId: string, call: (client: PersonioClient) => Promise<T>): Promise<T> {
  // Read before the secret: if Personio refuses it, only this credential is marked invalid, not one stored since.
  const { credentialsAt } = (await deps.connections.get(tenantId)) ?? {};
  let credentials: PersonioCredentials;
  try {
    credentials = await deps.credentials.get(tenantId);
  } catch (error) {
    throw toConnectError(error, tenantId, 'stored');
  }
  try {
    return await call(personioClient(deps, credentials));
  } catch (error) {
    if (error instanceof PersonioError && error.code === 'invalid_credentials')
      await deps.connections.markCredentialsInvalid(tenantId, deps.now(), credentialsAt);
    throw toConnectError(error, tenantId, 'stored');
  }
}
