import { BIRTHDAY_UNIVERSAL_ID, defaultMapping, userFieldNames, type Mapping } from '../mapping/mapping.js';
import { toReport, type RunReport } from '../runs/run.js';
import { ScheduleError } from '../schedules/schedules.js';
import { maskClientId, type ConnectionStatus } from '../tenants/connections.js';
import { pausedMessage, pauseView, type PauseView } from '../tenants/pause.js';
import type { Who } from './caller.js';
import { RECOVERY_WINDOW_DAYS } from './credentials.js';
import type { ConnectDeps } from './deps.js';
import { requireConnection } from './connection.js';
import { ConnectError } from './errors.js';
import { fieldLabels } from './fields.js';
import { personioClient, personioDeadline, readableAttributes, toAttributeView, toConnectError, type AttributeView } from './personio.js';
import { chosenByAdmin, defaultExpression, putSchedule } from './schedule.js';
import type { ConnectionRecord, ScheduleSettings } from './settings.js';
import { deleteWebhook, planWebhook, registerWebhook, webhooksView, type PreviousWebhook, type WebhooksView } from './webhooks.js';

export interface ConnectInput {
  clientId: string;
  clientSecret: string;
  appId?: string | undefined;
}

export interface ConnectResult {
  tenantId: string;
  status: ConnectionStatus;
  clientId: string;
  appId: string | null;
  readableAttributes: AttributeView[];
  mapping: Mapping;
  schedule: Required<ScheduleSettings>;
  /** Active: changes arrive within seconds and the schedule reconciles; unavailable: the schedule imports them (reason says why). */
  webhooks: WebhooksView;
  warnings: string[];
}

export interface ConnectionView {
  tenantId: string;
  status: ConnectionStatus;
  /** What the status means and what to do about it. */
  message: string;
  /** Set while scheduled imports are paused because Personio kept refusing the stored credentials. */
  paused: PauseView | null;
  clientId: string;
  appId: string | null;
  mapping: Mapping;
  schedule: Required<ScheduleSettings> | null;
  /** Null when disconnected, or connected before webhooks existed. */
  webhooks: WebhooksView | null;
  connectedAt: string;
  updatedAt: string;
  disconnectedAt: string | null;
  runs: RunReport[];
}

export interface DisconnectResult {
  tenantId: string;
  status: 'disconnected';
  message: string;
}

/** Runs shown with the connection's status. */
const RECENT_RUNS = 5;

/**
 * Checks credentials against Personio and stores them only if Personio accepts them and the credential can
 * read email; stores them (a new secret version when they change), creates or updates the tenant's
 * schedule, and saves the connection with the mapping restricted to what the credential can read: the
 * default mapping on the first connect, the tenant's own mapping on a reconnect.
 */
export async function connectTenant(deps: ConnectDeps, tenantId: string, input: ConnectInput, who: Who): Promise<ConnectResult> {
  // Every Personio call of the request, v1 checks and webhook registration alike, fits this one budget.
  const deadline = personioDeadline(deps);
  let attributes: Awaited<ReturnType<typeof readableAttributes>>;
  try {
    attributes = await readableAttributes(personioClient(deps, input, deadline));
  } catch (error) {
    throw toConnectError(error, tenantId, 'given');
  }

  const readable = new Set(attributes.map((a) => a.key));
  if (!readable.has('email')) {
    throw new ConnectError(
      'email_not_readable',
      'The Personio credential cannot read Email: enable it in Personio under Settings → Integrations → API credentials → Readable employee attributes. Dado cannot import users without it.',
    );
  }
  // Status is how a leaver loses access (Personio lists leavers as inactive): importing without it would keep every
  // leaver an active Dado user.
  if (!readable.has('status')) {
    throw new ConnectError(
      'status_not_readable',
      'The Personio credential cannot read Status: enable it in Personio under Settings → Integrations → API credentials → Readable employee attributes. Dado needs it to deactivate people who leave, whether or not the Status field is imported.',
    );
  }

  const existing = (await deps.connections.get(tenantId)) as ConnectionRecord | undefined;
  const birthday = attributes.find((a) => a.universal_id === BIRTHDAY_UNIVERSAL_ID)?.key ?? null;
  const { mapping, warnings } = restrictMapping(existing?.mapping ?? defaultMapping(birthday), defaultMapping(birthday), readable);
  const appId = input.appId ?? null;
  if (appId !== null && appId !== deps.personio.appId) {
    warnings.push(
      `App ID ${appId} is recorded with the connection, but Personio calls identify as ${deps.personio.appId}, Dado's App ID (the same for every tenant).`,
    );
  }

  // Decided before the credential is stored: the webhook's token is stored with it.
  const previous = await previousWebhook(deps, tenantId, existing);
  const plan = await planWebhook(deps, tenantId, input, deadline);
  try {
    await deps.credentials.put(tenantId, { clientId: input.clientId, clientSecret: input.clientSecret, ...(plan.ready ? { webhookToken: plan.token } : {}) });
  } catch (error) {
    throw toConnectError(error, tenantId, 'given');
  }
  // Webhooks only speed imports up: whatever Personio answers here, the connect goes on and the schedule imports.
  const registration = await registerWebhook(deps, plan, previous, previous.credentials?.clientId === input.clientId, deadline);
  const webhooks = registration.state;

  // A reconnect keeps the tenant's schedule if an admin chose it; otherwise (and on a first connect, or one after a
  // disconnect) the default that fits the webhooks: daily reconciliation while active, hourly without.
  const current = existing?.schedule;
  const custom = chosenByAdmin(deps, current);
  const schedule = await putSchedule(
    deps,
    tenantId,
    {
      enabled: current?.enabled ?? true,
      expression: custom && current ? current.expression : defaultExpression(deps, webhooks.status === 'active'),
      chosenByAdmin: custom,
    },
    'Personio accepted the credentials and they are stored, but',
  );

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
    webhooks,
  });
  await deps.settings.connected(tenantId, { schedule, appId });
  // The new webhook is on record: the one it replaces (and any a crash left for the tenant's URL) can go.
  await registration.retire();
  const live = existing !== undefined && existing.status !== 'disconnected';
  await deps.audit.record(
    tenantId,
    who,
    {
      action: live ? 'reconnected' : 'connected',
      details: { clientId: clientIdMasked, previousClientId: existing?.clientIdMasked ?? null, appId, webhooks: webhooks.status },
    },
    deps.now(),
  );

  return {
    tenantId,
    status: 'connected',
    clientId: clientIdMasked,
    appId,
    readableAttributes: attributes.map(toAttributeView),
    mapping,
    schedule,
    webhooks: webhooksView(webhooks),
    warnings,
  };
}

/**
 * The webhook an earlier connect left, with the credential stored then when there is one to compare: the same client
 * keeps the recorded company, and another client's webhook can only be deleted with its own credential.
 */
async function previousWebhook(deps: ConnectDeps, tenantId: string, existing: ConnectionRecord | undefined): Promise<PreviousWebhook> {
  const webhooks = existing?.webhooks;
  if (!webhooks || (webhooks.webhookId === null && webhooks.companyId === null)) return { webhooks, credentials: undefined };
  try {
    return { webhooks, credentials: await deps.credentials.get(tenantId) };
  } catch {
    // Unreadable (a disconnect scheduled its deletion, or Secrets Manager failed): treated as another client.
    return { webhooks, credentials: undefined };
  }
}

/**
 * Keeps each mapped field whose attribute the credential can read; the rest are not imported, each with a
 * warning an admin can act on.
 */
function restrictMapping(current: Mapping, defaults: Mapping, readable: ReadonlySet<string>): { mapping: Mapping; warnings: string[] } {
  const mapping: Mapping = { fields: { ...current.fields }, customFields: {} };
  const warnings: string[] = [];
  for (const field of userFieldNames) {
    const source = mapping.fields[field];
    const defaultSource = defaults.fields[field];
    if (defaultSource === null || !readable.has(defaultSource)) {
      warnings.push(`${fieldLabels[field]} is not readable: enable it in Personio under API credentials to import it.`);
    }
    if (source !== null && !readable.has(source)) {
      mapping.fields[field] = null;
      if (source !== defaultSource) warnings.push(`${fieldLabels[field]} was mapped to ${source}, which the credential cannot read: it is no longer imported.`);
    }
  }
  for (const [name, source] of Object.entries(current.customFields)) {
    if (readable.has(source)) mapping.customFields[name] = source;
    else warnings.push(`Custom field ${name} was mapped to ${source}, which the credential cannot read: it is no longer imported.`);
  }
  return { mapping, warnings };
}

const statusMessages: Record<ConnectionStatus, (tenantId: string) => string> = {
  connected: () => 'Connected: employees are imported on the schedule and on demand.',
  invalid_credentials: (t) =>
    `Personio refused the stored credentials (rotated or revoked in Personio), so imports fail. Connect again with valid ones: PUT /tenants/${t}/personio.`,
  disconnected: (t) => `Disconnected: nothing is imported; imported users stay. Connect again with PUT /tenants/${t}/personio.`,
};

export async function getConnection(deps: Pick<ConnectDeps, 'connections' | 'runs' | 'now' | 'scheduleDefaults'>, tenantId: string): Promise<ConnectionView> {
  const connection = await requireConnection(deps, tenantId, { allowDisconnected: true });
  const runs = await deps.runs.list(tenantId, RECENT_RUNS);
  const paused = pauseView(connection);
  return {
    tenantId,
    status: connection.status,
    message: paused ? pausedMessage(tenantId, paused) : statusMessages[connection.status](tenantId),
    paused,
    clientId: connection.clientIdMasked,
    appId: connection.appId ?? null,
    mapping: connection.mapping,
    schedule:
      connection.status === 'disconnected' || !connection.schedule ? null : { ...connection.schedule, chosenByAdmin: chosenByAdmin(deps, connection.schedule) },
    webhooks: connection.status === 'disconnected' || !connection.webhooks ? null : webhooksView(connection.webhooks),
    connectedAt: connection.connectedAt,
    updatedAt: connection.updatedAt,
    disconnectedAt: connection.disconnectedAt ?? null,
    runs: await Promise.all(runs.map(async (r) => toReport(await deps.runs.withLiveCounts(r), deps.now()))),
  };
}

/**
 * Deletes the tenant's schedule and secret (recoverable for 7 days) and marks the connection disconnected.
 * Imported users, the mapping and the runs stay. Repeating it is harmless.
 */
export async function disconnectTenant(deps: ConnectDeps, tenantId: string, who: Who): Promise<DisconnectResult> {
  const connection = await requireConnection(deps, tenantId, { allowDisconnected: true });
  try {
    await deps.schedules.delete(tenantId);
  } catch (error) {
    if (error instanceof ScheduleError) {
      throw new ConnectError(
        'schedule_unavailable',
        'The import schedule could not be deleted (EventBridge Scheduler is unavailable); nothing was changed. Send DELETE again.',
      );
    }
    throw error;
  }
  // Best effort, while the secret still holds the credential that can: a webhook left behind only gets refusals.
  const webhook = await deleteWebhook(deps, tenantId, connection.webhooks, personioDeadline(deps));
  try {
    await deps.credentials.delete(tenantId, RECOVERY_WINDOW_DAYS);
  } catch (error) {
    const mapped = toConnectError(error, tenantId, 'stored');
    if (mapped.code !== 'secrets_unavailable') throw mapped;
    throw new ConnectError(
      'secrets_unavailable',
      'The import schedule is deleted, but the credentials could not be deleted (Secrets Manager is unavailable). Send DELETE again.',
    );
  }
  await deps.settings.disconnected(tenantId, deps.now(), webhook.state);
  await deps.audit.record(
    tenantId,
    who,
    { action: 'disconnected', details: { clientId: connection.clientIdMasked, previousStatus: connection.status, webhooks: webhook.outcome } },
    deps.now(),
  );
  const gone = webhook.outcome === 'deleted' ? 'the Personio webhook, ' : '';
  return {
    tenantId,
    status: 'disconnected',
    message: `Disconnected: ${gone}the schedule is deleted and the credentials are deleted after a ${RECOVERY_WINDOW_DAYS}-day recovery window. Imported users stay. Connect again any time with PUT /tenants/${tenantId}/personio.${webhook.finding ? ` ${webhook.finding}` : ''}`,
  };
}
