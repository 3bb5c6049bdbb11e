import type { PersonioCredentials } from '../personio/client.js';
import { PersonioError } from '../personio/errors.js';
import { PersonioV2Client, WEBHOOKS_WRITE_SCOPE } from '../personio/v2/client.js';
import type { ConnectionWebhooks } from '../tenants/connections.js';
import { handledEvents } from '../webhooks/change.js';
import { hashToken, newWebhookToken } from '../webhooks/token.js';
import type { ConnectDeps } from './deps.js';

/** What the connect and status answers say about a tenant's webhooks. */
export interface WebhooksView {
  status: ConnectionWebhooks['status'];
  reason: string | null;
}

const ON_SCHEDULE = 'Until then, changes are imported on the schedule.';

/** Why webhooks are unavailable, in words an admin can act on. Webhooks only speed imports up: the schedule never stops. */
export const webhookReasons = {
  notConfigured: 'This deployment has no webhook URL configured (WEBHOOK_BASE_URL), so changes are imported on the schedule only.',
  permission: `The Personio API credential needs the Webhooks permission (personio:webhooks:write): in Personio, give this API credential Read and Write access to Webhooks (Marketplace → Connected Integrations → your integration → access rights), then connect again. ${ON_SCHEDULE}`,
  v2Refused: `Personio's v2 API, which webhooks use, refused this credential: check that it may use the v2 API with the Webhooks permission (personio:webhooks:write), then connect again. ${ON_SCHEDULE}`,
  failed: `The Personio webhook could not be registered (Personio was unreachable or answered with an error); reconnect to try again. ${ON_SCHEDULE}`,
  disconnected: 'Disconnected: the Personio webhook is deleted and deliveries are refused.',
} as const;

/** The description Personio shows for the webhook: says whose it is. */
const DESCRIPTION = 'Dado user import (registered on connect; deleted on disconnect)';

/** What a connect will do about webhooks, decided before the credential is stored (the token goes into the secret). */
export type WebhookPlan = { ready: false; reason: string } | { ready: true; client: PersonioV2Client; url: string; token: string };

/** What an earlier connect left, and whether the credential is the same Personio company's. */
export interface PreviousWebhook {
  webhooks: ConnectionWebhooks | undefined;
  /** The stored credential before this connect, when it could be read: it is the only one that can delete a webhook of another company. */
  credentials: PersonioCredentials | undefined;
}

export interface Registration {
  state: ConnectionWebhooks;
  /** Best effort, after the new state is saved: deletes the previous webhook and any leftover for the tenant's URL. */
  retire(): Promise<void>;
}

function v2Client(deps: Pick<ConnectDeps, 'personio'>, credentials: PersonioCredentials, deadline: number): PersonioV2Client {
  const { baseUrl, appId, fetch, timeoutMs } = deps.personio;
  return new PersonioV2Client({
    baseUrl,
    appId,
    credentials: { clientId: credentials.clientId, clientSecret: credentials.clientSecret },
    deadline,
    ...(fetch ? { fetch } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

const failureReason = (error: unknown): string =>
  error instanceof PersonioError && error.code === 'forbidden' ? webhookReasons.permission : webhookReasons.failed;

/**
 * Whether connect can register a webhook: a webhook URL is configured and the credential's v2 token carries the
 * write scope (when Personio lists the scopes; otherwise the registration's answer tells).
 */
export async function planWebhook(
  deps: Pick<ConnectDeps, 'personio' | 'webhooks'>,
  tenantId: string,
  credentials: PersonioCredentials,
  deadline: number,
): Promise<WebhookPlan> {
  const base = deps.webhooks.baseUrl;
  if (!base) return { ready: false, reason: webhookReasons.notConfigured };
  const client = v2Client(deps, credentials, deadline);
  try {
    const { scopes } = await client.authenticate();
    if (scopes !== null && !scopes.includes(WEBHOOKS_WRITE_SCOPE)) return { ready: false, reason: webhookReasons.permission };
  } catch (error) {
    const refused = error instanceof PersonioError && (error.code === 'invalid_credentials' || error.code === 'forbidden');
    return { ready: false, reason: refused ? webhookReasons.v2Refused : webhookReasons.failed };
  }
  return { ready: true, client, url: `${base}${tenantId}`, token: newWebhookToken() };
}

/**
 * Registers the tenant's webhook as planned (all handled events, auth by the planned token). Personio refuses a second
 * webhook for a URL it has (409): then ours for that URL are deleted first and the registration tried once more. Never
 * throws: a refusal or a failure is an unavailable state with its reason, and imports go on by the schedule.
 */
export async function registerWebhook(
  deps: Pick<ConnectDeps, 'personio' | 'now'>,
  plan: WebhookPlan,
  previous: PreviousWebhook,
  sameClient: boolean,
  deadline: number,
): Promise<Registration> {
  const old = previous.webhooks;
  const companyId = sameClient ? (old?.companyId ?? null) : null;
  const unavailable = (reason: string, webhookId: string | null): ConnectionWebhooks => ({
    status: 'unavailable',
    reason,
    webhookId,
    tokenHash: null,
    companyId,
    updatedAt: deps.now().toISOString(),
  });
  // The previous webhook belongs to another company when the stored credential was another client's: only that
  // credential can delete it, and the id means nothing to the new one.
  const otherCompany = !sameClient && previous.credentials !== undefined;
  const retireOtherCompany = async (): Promise<void> => {
    if (old?.webhookId && otherCompany && previous.credentials) await deleteQuietly(v2Client(deps, previous.credentials, deadline), old.webhookId);
  };
  const keptId = otherCompany ? null : (old?.webhookId ?? null);

  if (!plan.ready) return { state: unavailable(plan.reason, keptId), retire: retireOtherCompany };

  const input = { url: plan.url, description: DESCRIPTION, token: plan.token, enabledEvents: handledEvents };
  let webhookId: string;
  try {
    try {
      webhookId = (await plan.client.createWebhook(input)).id;
    } catch (error) {
      if (!(error instanceof PersonioError && error.status === 409)) throw error;
      // The URL is taken (the previous registration, or one a crash left): replace it. Deliveries pause for this moment.
      await deleteAt(plan.client, plan.url, keptId);
      webhookId = (await plan.client.createWebhook(input)).id;
    }
  } catch (error) {
    return { state: unavailable(failureReason(error), keptId), retire: retireOtherCompany };
  }

  const state: ConnectionWebhooks = {
    status: 'active',
    reason: null,
    webhookId,
    tokenHash: hashToken(plan.token),
    companyId,
    updatedAt: deps.now().toISOString(),
  };
  const retire = async (): Promise<void> => {
    await retireOtherCompany();
    if (keptId && keptId !== webhookId) await deleteQuietly(plan.client, keptId);
    await deleteAt(plan.client, plan.url, null, webhookId);
  };
  return { state, retire };
}

/** Deletes our webhooks registered for `url` (but `keep`), and `known` if the listing is not allowed or fails. */
async function deleteAt(client: PersonioV2Client, url: string, known: string | null, keep?: string): Promise<void> {
  let ids: string[];
  try {
    ids = (await client.listWebhooks()).filter((w) => w.url === url && w.id !== keep).map((w) => w.id);
  } catch {
    ids = known && known !== keep ? [known] : [];
  }
  for (const id of ids) await deleteQuietly(client, id);
}

/** Deletes a webhook; answers whether it is gone (404 counts), never throws. */
async function deleteQuietly(client: PersonioV2Client, id: string): Promise<boolean> {
  try {
    await client.deleteWebhook(id);
    return true;
  } catch {
    return false;
  }
}

/**
 * Disconnect: deletes the tenant's webhook with the stored credential, before the secret goes. Answers a finding for
 * the admin when it could not (the webhook then stays in Personio, and the receiver refuses its deliveries), and the
 * state to save: inactive, no token hash, the id kept only if the webhook may still exist.
 */
export async function deleteWebhook(
  deps: Pick<ConnectDeps, 'personio' | 'credentials' | 'now'>,
  tenantId: string,
  current: ConnectionWebhooks | undefined,
  deadline: number,
): Promise<{ state: ConnectionWebhooks | undefined; outcome: 'deleted' | 'not_deleted' | 'none'; finding: string | null }> {
  if (!current) return { state: undefined, outcome: 'none', finding: null };
  const settled = (webhookId: string | null): ConnectionWebhooks => ({
    ...current,
    status: 'unavailable',
    reason: webhookReasons.disconnected,
    webhookId,
    tokenHash: null,
    updatedAt: deps.now().toISOString(),
  });
  if (!current.webhookId) return { state: settled(null), outcome: 'none', finding: null };
  let deleted = false;
  try {
    const credentials = await deps.credentials.get(tenantId);
    deleted = await deleteQuietly(v2Client(deps, credentials, deadline), current.webhookId);
  } catch {
    deleted = false;
  }
  if (deleted) return { state: settled(null), outcome: 'deleted', finding: null };
  return {
    state: { ...settled(current.webhookId), reason: 'Disconnected; the Personio webhook could not be deleted, and its deliveries are refused.' },
    outcome: 'not_deleted',
    finding: `The Personio webhook ${current.webhookId} could not be deleted (Personio was unreachable or refused): delete it in Personio, or connect again, which replaces it. Its deliveries are refused meanwhile.`,
  };
}

export const webhooksView = (state: ConnectionWebhooks): WebhooksView => ({ status: state.status, reason: state.reason });
