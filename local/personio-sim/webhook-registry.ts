import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { recordSimToken } from './issued.js';
import type { SimWebhook, SimWebhookAuthType } from './types.js';

/**
 * The company's registered webhooks (one simulator = one Personio company) and the validation of POST/PATCH
 * /v2/webhooks bodies. What a receiver registered to authenticate deliveries (token, custom header values) stays in
 * here: it is sent with deliveries, never shown.
 */

/** The person and employment events (the absence, attendance and document events are not simulated). */
export const WEBHOOK_EVENTS: readonly string[] = [
  'person.created',
  'person.updated',
  'person.deleted',
  'employment.created',
  'employment.updated',
  'employment.deleted',
  'employment.started',
  'employment.terminated',
];

export interface StoredWebhook extends SimWebhook {
  token: string | null;
  customHeaders: Record<string, string>;
}

export class WebhookInputError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 409 | 422,
    readonly meta?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'WebhookInputError';
  }
}

// Personio refuses these custom header names (and any starting with one of them), case-insensitively.
const RESERVED_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'expect', 'content-type'];

const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid header name')
  .refine((name) => !RESERVED_HEADERS.some((reserved) => name.toLowerCase().startsWith(reserved)), 'reserved header name');

const fields = {
  url: z.url({ protocol: /^https?$/ }).max(2048),
  description: z.string().max(1024),
  status: z.enum(['ENABLED', 'DISABLED']),
  auth_type: z.enum(['NONE', 'TOKEN', 'CUSTOM']),
  token: z.string().min(1).max(1024),
  custom_headers: z.record(headerName, z.string().max(1024)),
  enabled_events: z.array(z.string()).min(1),
};

// Personio marks url, description and enabled_events required; the rest defaults (status DISABLED, auth_type TOKEN).
const createBody = z.strictObject({
  url: fields.url,
  description: fields.description,
  status: fields.status.optional(),
  auth_type: fields.auth_type.optional(),
  token: fields.token.optional(),
  custom_headers: fields.custom_headers.optional(),
  enabled_events: fields.enabled_events,
});
const patchBody = createBody.partial();

export class WebhookRegistry {
  private readonly byId = new Map<string, StoredWebhook>();

  list(): StoredWebhook[] {
    return [...this.byId.values()];
  }

  get(id: string): StoredWebhook | undefined {
    return this.byId.get(id);
  }

  create(body: unknown): StoredWebhook {
    const input = parse(createBody, body);
    const now = new Date().toISOString();
    const webhook = settle({
      id: randomUUID(),
      url: input.url,
      description: input.description,
      status: input.status ?? 'DISABLED',
      auth_type: input.auth_type ?? 'TOKEN',
      enabled_events: input.enabled_events,
      created_at: now,
      updated_at: now,
      token: input.token ?? null,
      customHeaders: input.custom_headers ?? {},
    });
    this.refuseTakenUrl(webhook);
    this.byId.set(webhook.id, webhook);
    return webhook;
  }

  update(id: string, body: unknown): StoredWebhook | undefined {
    const current = this.byId.get(id);
    if (!current) return undefined;
    const input = parse(patchBody, body);
    const next = settle({
      ...current,
      ...(input.url === undefined ? {} : { url: input.url }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.auth_type === undefined ? {} : { auth_type: input.auth_type }),
      ...(input.enabled_events === undefined ? {} : { enabled_events: input.enabled_events }),
      ...(input.token === undefined ? {} : { token: input.token }),
      ...(input.custom_headers === undefined ? {} : { customHeaders: input.custom_headers }),
      updated_at: new Date().toISOString(),
    });
    this.refuseTakenUrl(next);
    this.byId.set(id, next);
    return next;
  }

  delete(id: string): boolean {
    return this.byId.delete(id);
  }

  private refuseTakenUrl(webhook: StoredWebhook): void {
    for (const other of this.byId.values()) {
      if (other.id !== webhook.id && other.url === webhook.url) throw new WebhookInputError('A webhook with this url already exists.', 409);
    }
  }
}

/** The public view: no token, no custom header values. */
export function publicWebhook(webhook: StoredWebhook): SimWebhook {
  const { token: _token, customHeaders: _headers, ...view } = webhook;
  return { ...view, enabled_events: [...view.enabled_events] };
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new WebhookInputError(`Provided request body is invalid: ${z.prettifyError(parsed.error)}`, 400);
  return parsed.data;
}

/** Checks what depends on more than one field, after defaults and patches are applied. */
function settle(webhook: StoredWebhook): StoredWebhook {
  const unknown = webhook.enabled_events.filter((event) => !WEBHOOK_EVENTS.includes(event));
  if (unknown.length > 0) throw new WebhookInputError(`Unknown event names: ${unknown.join(', ')}.`, 422, { unknown_events: unknown });
  const authType: SimWebhookAuthType = webhook.auth_type;
  if (authType === 'TOKEN' && webhook.token === null) throw new WebhookInputError('A token is required when auth_type is TOKEN.', 400);
  const headerCount = Object.keys(webhook.customHeaders).length;
  if (authType === 'CUSTOM' && (headerCount === 0 || headerCount > 3)) {
    throw new WebhookInputError('custom_headers needs 1 to 3 headers when auth_type is CUSTOM.', 400);
  }
  if (authType !== 'CUSTOM' && headerCount > 0) throw new WebhookInputError('custom_headers is only allowed when auth_type is CUSTOM.', 400);
  if (webhook.token !== null) recordSimToken(webhook.token);
  for (const value of Object.values(webhook.customHeaders)) recordSimToken(value);
  return { ...webhook, enabled_events: [...new Set(webhook.enabled_events)] };
}
