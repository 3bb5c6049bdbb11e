import { CredentialsError, type CredentialsStore } from '../credentials/store.js';
import { BIRTHDAY_UNIVERSAL_ID, defaultMapping, userFieldNames, type Mapping } from '../mapping/mapping.js';
import { PersonioClient, type PersonioClientOptions } from '../personio/client.js';
import { PersonioError } from '../personio/errors.js';
import type { AttributeInfo } from '../personio/schemas.js';
import { toReport, type RunReport } from '../runs/run.js';
import type { RunStore } from '../runs/store.js';
import { maskClientId, type ConnectionStatus, type ConnectionStore } from '../tenants/connections.js';
import { ConnectError } from './errors.js';
import { fieldLabels } from './fields.js';

export interface ConnectDeps {
  connections: ConnectionStore;
  credentials: CredentialsStore;
  runs: RunStore;
  personio: Pick<PersonioClientOptions, 'baseUrl' | 'appId'> & Partial<Pick<PersonioClientOptions, 'fetch' | 'timeoutMs'>>;
  now: () => Date;
}

export interface ConnectInput {
  clientId: string;
  clientSecret: string;
}

export interface ConnectResult {
  tenantId: string;
  status: ConnectionStatus;
  clientId: string;
  readableAttributes: { key: string; label: string; type: string; universalId: string | null; options: string[] }[];
  mapping: Mapping;
  warnings: string[];
}

export interface ConnectionView {
  tenantId: string;
  status: ConnectionStatus;
  clientId: string;
  mapping: Mapping;
  connectedAt: string;
  updatedAt: string;
  runs: RunReport[];
}

/** API Gateway answers after 30 s: keep Personio's part well inside that. */
const PERSONIO_BUDGET_MS = 20_000;

/**
 * Checks credentials against Personio and stores them only if Personio accepts them and the
 * credential can read email; saves the connection with the default mapping restricted to what the
 * credential can read, and says which default fields it cannot.
 */
export async function connectTenant(deps: ConnectDeps, tenantId: string, input: ConnectInput): Promise<ConnectResult> {
  const client = new PersonioClient({
    ...deps.personio,
    credentials: input,
    deadline: deps.now().getTime() + PERSONIO_BUDGET_MS,
    retryLimit: 2,
  });
  let attributes: AttributeInfo[];
  try {
    await client.authenticate();
    attributes = await client.listAttributes();
    // One employee proves the credential can read employees, not just authenticate.
    const sample = await client.listEmployees({ limit: 1, offset: 0 });
    attributes = withSampleKeys(attributes, sample.data[0]?.attributes ?? {});
  } catch (error) {
    throw toConnectError(error);
  }

  const readable = new Set(attributes.map((a) => a.key));
  if (!readable.has('email')) {
    throw new ConnectError(
      'email_not_readable',
      'The Personio credential cannot read Email: enable it in Personio under Settings → Integrations → API credentials → Readable employee attributes. Dado cannot import users without it.',
    );
  }

  const birthday = attributes.find((a) => a.universal_id === BIRTHDAY_UNIVERSAL_ID)?.key ?? null;
  const mapping = defaultMapping(birthday);
  const warnings: string[] = [];
  for (const field of userFieldNames) {
    const source = mapping.fields[field];
    if (source === null || !readable.has(source)) {
      mapping.fields[field] = null;
      warnings.push(`${fieldLabels[field]} is not readable: enable it in Personio under API credentials to import it.`);
    }
  }

  try {
    await deps.credentials.put(tenantId, { clientId: input.clientId, clientSecret: input.clientSecret });
  } catch (error) {
    throw toConnectError(error);
  }
  const now = deps.now().toISOString();
  const clientIdMasked = maskClientId(input.clientId);
  await deps.connections.save({
    tenantId,
    status: 'connected',
    clientIdMasked,
    mapping,
    readableAttributes: [...readable].sort(),
    connectedAt: now,
    updatedAt: now,
  });

  return {
    tenantId,
    status: 'connected',
    clientId: clientIdMasked,
    readableAttributes: attributes.map((a) => ({ key: a.key, label: a.label, type: a.type, universalId: a.universal_id, options: a.options })),
    mapping,
    warnings,
  };
}

export async function getConnection(deps: Pick<ConnectDeps, 'connections' | 'runs' | 'now'>, tenantId: string): Promise<ConnectionView> {
  const connection = await deps.connections.get(tenantId);
  if (!connection) throw new ConnectError('not_connected', `Tenant ${tenantId} has not connected Personio.`);
  const runs = await deps.runs.list(tenantId, 5);
  return {
    tenantId,
    status: connection.status,
    clientId: connection.clientIdMasked,
    mapping: connection.mapping,
    connectedAt: connection.connectedAt,
    updatedAt: connection.updatedAt,
    runs: runs.map((r) => toReport(r, deps.now())),
  };
}

/** Attributes a sample employee carries but the attributes list left out (Personio's list is not always complete). */
function withSampleKeys(attributes: AttributeInfo[], sample: Record<string, { label?: string | null | undefined; type?: string | undefined; universal_id?: string | null | undefined }>): AttributeInfo[] {
  const known = new Set(attributes.map((a) => a.key));
  const extra = Object.entries(sample)
    .filter(([key]) => !known.has(key))
    .map(([key, a]) => ({ key, label: a.label ?? key, type: a.type ?? 'standard', universal_id: a.universal_id ?? null, options: [] }));
  return [...attributes, ...extra];
}

function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof PersonioError) {
    switch (error.code) {
      case 'invalid_credentials':
        return new ConnectError('invalid_credentials', 'Personio rejected the Client ID or Client Secret. Check both in Personio under Settings → Integrations → API credentials.');
      case 'forbidden':
        return new ConnectError('invalid_credentials', 'Personio accepted the credentials but refuses to list employees with them: give the credential read access to employees.');
      case 'rate_limited':
        return new ConnectError('personio_rate_limited', 'Personio is rate-limiting this credential; try again in a minute.');
      default:
        return new ConnectError('personio_unavailable', `Personio could not be reached or answered unexpectedly (${error.code}); nothing was stored. Try again later.`);
    }
  }
  if (error instanceof CredentialsError) return new ConnectError('secrets_unavailable', 'The credentials could not be stored; nothing was saved. Try again later.');
  throw error;
}
