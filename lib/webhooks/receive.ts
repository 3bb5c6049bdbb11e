import * as z from 'zod';
import type { WebhookRefusalReason } from '../observability/metrics.js';
import type { Connection } from '../tenants/connections.js';
import { tenantIdSchema } from '../tenants/tenant-id.js';
import { type ChangeMessage, changeMessage, isHandledEvent, personIdOf } from './change.js';
import { type CompanyRecords, recordedCompany, type WebhookState, webhookStateOf } from './company.js';
import type { ChangeKey, Dedupe } from './dedupe.js';
import { WebhookError, type WebhookErrorCode } from './errors.js';
import type { ChangeSender } from './sender.js';
import { tokenMatches } from './token.js';

/** The largest body taken: Personio's deliveries are ids and an event name, a few hundred bytes. */
export const MAX_BODY_BYTES = 65_536;

export interface WebhookRequest {
  /** The `{tenantId}` path parameter, unvalidated. */
  tenantId: string | undefined;
  /** The Authorization header: Personio sends the registered token verbatim. */
  authorization?: string | undefined;
  /** The body as text (the adapter decodes base64). */
  body: string;
  /** Content-Length as the client declared it, if it did. */
  contentLength?: number | undefined;
}

export interface ReceiveDeps {
  /** lib/tenants/connections.ts ConnectionStore. */
  connections: { get(tenantId: string): Promise<Connection | undefined> };
  dedupe: Dedupe;
  changes: ChangeSender;
  companies: CompanyRecords;
  now: () => Date;
}

/** Why a delivery was refused: the `reason` of WebhooksRefused. */
export type RefusalReason = WebhookRefusalReason;

export type WebhookOutcome =
  | { kind: 'accepted'; change: ChangeMessage }
  | { kind: 'duplicate' }
  | { kind: 'ignored'; why: 'unhandled_event' | 'no_person_id' }
  | { kind: 'refused'; reason: RefusalReason }
  /** `cause`: SQS's error, for the adapter's log line (its name and code). */
  | { kind: 'unavailable'; cause: unknown };

export interface WebhookAnswer {
  status: number;
  body: { status: 'accepted' | 'duplicate' | 'ignored' } | { code: WebhookErrorCode; message: string };
  outcome: WebhookOutcome;
  /** What the adapter may log: ids and names from our own lists, never the token or the body. */
  log: Record<string, string | number | boolean>;
}

/**
 * Personio's delivery (its documented shape). Unknown keys are allowed: Personio may add some. A number `company_id`
 * is read as its digits.
 */
const deliverySchema = z
  .object({
    company_id: z.union([z.string().trim().min(1).max(128), z.number().int().nonnegative()]).transform(String),
    event_name: z.string().min(1).max(128),
    occurred_at: z.iso.datetime({ offset: true }),
    payload: z.record(z.string(), z.unknown()),
    meta: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .loose();

type Delivery = z.output<typeof deliverySchema>;

const answers: Record<WebhookErrorCode, { status: number; reason?: RefusalReason; message: string }> = {
  payload_too_large: { status: 413, reason: 'too_large', message: `The body is larger than ${MAX_BODY_BYTES} bytes.` },
  unauthorized: { status: 401, reason: 'unauthorized', message: 'Missing or invalid webhook token.' },
  malformed_body: {
    status: 400,
    reason: 'malformed',
    message: 'Expected a JSON object {company_id, event_name, occurred_at (ISO date-time), payload (object), meta?}.',
  },
  company_mismatch: { status: 403, reason: 'company_mismatch', message: "The delivery's company_id is not this tenant's Personio company." },
  unavailable: { status: 503, message: 'The change could not be queued; retry later.' },
};

/** One message for every 401, so the answer never says which check failed. */
const unauthorized = () => new WebhookError('unauthorized', answers.unauthorized.message);

/** Company ids are logged (they are no secret) when they look like ids; anything else by its length only. */
const loggable = (value: string): string => (/^[A-Za-z0-9_-]{1,64}$/.test(value) ? value : `<${value.length} characters>`);

/**
 * Takes one Personio webhook delivery: refuses what is too large, unauthenticated, malformed or for another company;
 * acknowledges what it will not act on (so Personio stops retrying); records each change once and queues it.
 * Whatever is refused stores nothing. A change that cannot be queued stores nothing either and is answered 503, so
 * Personio's retry brings it.
 */
export async function receiveWebhook(deps: ReceiveDeps, request: WebhookRequest): Promise<WebhookAnswer> {
  const log: WebhookAnswer['log'] = {};
  try {
    const bytes = Buffer.byteLength(request.body, 'utf8');
    log['bodyBytes'] = bytes;
    if (bytes > MAX_BODY_BYTES || (request.contentLength ?? 0) > MAX_BODY_BYTES) throw new WebhookError('payload_too_large', answers.payload_too_large.message);

    const { tenantId, webhooks } = await authenticate(deps, request);
    log['tenantId'] = tenantId;

    const delivery = parseDelivery(request.body);
    const event = isHandledEvent(delivery.event_name) ? delivery.event_name : undefined;
    log['event'] = event ?? 'unhandled';

    await checkCompany(deps, tenantId, delivery.company_id, webhooks, log);

    const personId = event ? personIdOf(event, delivery.payload) : undefined;
    if (!event || personId === undefined) {
      const why = event ? 'no_person_id' : 'unhandled_event';
      log['ignored'] = why;
      return { status: 202, body: { status: 'ignored' }, outcome: { kind: 'ignored', why }, log };
    }
    log['personId'] = personId;

    // Read, send, then record: a change is remembered only once it is queued, so a failure or a timeout anywhere in
    // between leaves nothing behind and Personio's retry queues it (dedupe.ts). Two deliveries of one change arriving
    // together may both pass the read and both be queued: harmless, the refresh re-reads the person from Personio.
    const key: ChangeKey = { tenantId, event, personId, occurredAt: delivery.occurred_at };
    if (await deps.dedupe.seen(key)) return { status: 200, body: { status: 'duplicate' }, outcome: { kind: 'duplicate' }, log };
    const receivedAt = deps.now();
    const change = changeMessage({ tenantId, event, personId, occurredAt: delivery.occurred_at }, receivedAt);
    try {
      await deps.changes.send(change);
    } catch (error) {
      throw new WebhookError('unavailable', answers.unavailable.message, { cause: error });
    }
    await deps.dedupe.record(key, receivedAt).catch((error: unknown) => {
      // The change is queued, so it is accepted all the same; Personio's retry of it, if any, is queued once more.
      log['recordFailed'] = error instanceof Error ? loggable(error.name) : 'unknown';
    });
    return { status: 202, body: { status: 'accepted' }, outcome: { kind: 'accepted', change }, log };
  } catch (error) {
    if (!(error instanceof WebhookError)) throw error;
    const answer = answers[error.code];
    const outcome: WebhookOutcome = answer.reason ? { kind: 'refused', reason: answer.reason } : { kind: 'unavailable', cause: error.cause };
    return { status: answer.status, body: { code: error.code, message: answer.message }, outcome, log };
  }
}

/**
 * The tenant, its connection and its active webhook, and the token: any failure is the same 401. The token is hashed
 * and compared in constant time whether or not there is anything to compare it with.
 */
async function authenticate(deps: ReceiveDeps, request: WebhookRequest): Promise<{ tenantId: string; webhooks: WebhookState & { tokenHash: string } }> {
  const tenant = tenantIdSchema.safeParse(request.tenantId);
  const connection = tenant.success ? await deps.connections.get(tenant.data) : undefined;
  const webhooks = connection && connection.status !== 'disconnected' ? webhookStateOf(connection) : undefined;
  const storedHash = webhooks?.status === 'active' && typeof webhooks.tokenHash === 'string' ? webhooks.tokenHash : undefined;
  const matches = tokenMatches(request.authorization, storedHash);
  if (!tenant.success || !webhooks || storedHash === undefined || !matches) throw unauthorized();
  return { tenantId: tenant.data, webhooks: { ...webhooks, tokenHash: storedHash } };
}

function parseDelivery(body: string): Delivery {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const parsed = deliverySchema.safeParse(json);
  // Zod's issues may quote the body's values: none of them reaches the answer or a log line.
  if (!parsed.success) throw new WebhookError('malformed_body', answers.malformed_body.message);
  return parsed.data;
}

/**
 * The delivery must come from the tenant's own Personio company. The first authenticated delivery records it when
 * connect did not (trust on first use, by a holder of the tenant's token); a lost race to record it is settled by
 * reading what was recorded.
 */
async function checkCompany(
  deps: ReceiveDeps,
  tenantId: string,
  delivered: string,
  webhooks: WebhookState & { tokenHash: string },
  log: WebhookAnswer['log'],
): Promise<void> {
  let expected = recordedCompany(webhooks);
  if (expected === undefined) {
    if (await deps.companies.record(tenantId, delivered, webhooks.tokenHash)) {
      log['companyRecorded'] = loggable(delivered);
      return;
    }
    const now = webhookStateOf(await deps.connections.get(tenantId));
    if (now?.status !== 'active' || now.tokenHash !== webhooks.tokenHash) throw unauthorized();
    expected = recordedCompany(now);
  }
  if (expected !== delivered) {
    log['expectedCompany'] = expected === undefined ? 'none' : loggable(expected);
    log['deliveredCompany'] = loggable(delivered);
    throw new WebhookError('company_mismatch', answers.company_mismatch.message);
  }
}
