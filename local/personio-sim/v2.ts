import type { IncomingMessage } from 'node:http';
import { json, type Reply } from './responses.js';
import type { TokenRegistry } from './tokens.js';
import type { SimKnobs, SimStats } from './types.js';
import { oauthErrors, problems } from './v2-responses.js';
import { publicWebhook, WebhookInputError, type WebhookRegistry } from './webhook-registry.js';

/**
 * Personio v2 as far as webhooks need it: `POST /v2/auth/token` (OAuth2 client credentials, form-encoded) and webhook
 * management. v2 tokens open only /v2 routes and v1 tokens only /v1 ones. No rate limits, latency or injected faults
 * apply here (the knobs are about the v1 import).
 */

export const WEBHOOKS_READ = 'personio:webhooks:read';
export const WEBHOOKS_WRITE = 'personio:webhooks:write';
const BASE_SCOPES = ['personio:persons:read', 'personio:employments:read'];
const KNOWN_SCOPES = new Set([...BASE_SCOPES, WEBHOOKS_READ, WEBHOOKS_WRITE]);
const FORM_TYPE = 'application/x-www-form-urlencoded';

export interface V2Deps {
  /** client id → secret and whether the credential was given webhook access at start. */
  credentials: ReadonlyMap<string, { secret: string; webhooks: boolean }>;
  knobs: () => SimKnobs;
  tokens: TokenRegistry;
  webhooks: WebhookRegistry;
  counters: () => SimStats['v2'];
  baseUrl: () => string;
  /** Called after a webhook was created, changed or deleted. */
  onWebhooksChanged?: () => void;
}

export class V2Api {
  constructor(private readonly deps: V2Deps) {}

  async handle(req: IncomingMessage, url: URL, body: () => Promise<string>): Promise<Reply> {
    const counters = this.deps.counters();
    counters.requests += 1;
    const reply = await this.route(req, url, body, counters);
    counters.byStatus[reply.status] = (counters.byStatus[reply.status] ?? 0) + 1;
    return reply;
  }

  /** The scopes a credential has now (webhook access can be withdrawn while its tokens live). */
  grantedScopes(clientId: string): string[] {
    const credential = this.deps.credentials.get(clientId);
    if (!credential) return [];
    const webhooks = credential.webhooks && !this.deps.knobs().webhooksDeniedClientIds.includes(clientId);
    return webhooks ? [...BASE_SCOPES, WEBHOOKS_READ, WEBHOOKS_WRITE] : [...BASE_SCOPES];
  }

  private async route(req: IncomingMessage, url: URL, body: () => Promise<string>, counters: SimStats['v2']): Promise<Reply> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/v2/auth/token') {
      if (method !== 'POST') return problems.methodNotAllowed();
      counters.authCalls += 1;
      return this.token(req.headers['content-type'] ?? '', await body());
    }
    const webhookId = /^\/v2\/webhooks\/([^/]+)$/.exec(path)?.[1];
    if (path !== '/v2/webhooks' && webhookId === undefined) return problems.notFound();

    counters.webhookCalls += 1;
    const scopes = this.bearerScopes(req.headers.authorization);
    if (scopes === undefined) return problems.unauthorized();
    const writes = method !== 'GET';
    const needed = writes ? WEBHOOKS_WRITE : WEBHOOKS_READ;
    if (!scopes.includes(needed)) return problems.insufficientScope(needed);

    try {
      if (webhookId === undefined) {
        if (method === 'GET') return this.list();
        if (method === 'POST') return this.created(this.deps.webhooks.create(parseJson(await body())));
        return problems.methodNotAllowed();
      }
      const id = decodeURIComponent(webhookId);
      if (method === 'GET') {
        const found = this.deps.webhooks.get(id);
        return found ? json(200, publicWebhook(found)) : problems.notFound();
      }
      if (method === 'PATCH') {
        const updated = this.deps.webhooks.update(id, parseJson(await body()));
        if (!updated) return problems.notFound();
        this.deps.onWebhooksChanged?.();
        return json(200, publicWebhook(updated));
      }
      if (method === 'DELETE') {
        if (!this.deps.webhooks.delete(id)) return problems.notFound();
        this.deps.onWebhooksChanged?.();
        return { status: 204, body: '', contentType: 'application/json' };
      }
      return problems.methodNotAllowed();
    } catch (error) {
      if (error instanceof WebhookInputError) {
        if (error.status === 409) return problems.conflict(error.message);
        if (error.status === 422) return problems.unprocessable(error.message, error.meta);
        return problems.badRequest(error.message);
      }
      throw error;
    }
  }

  private created(webhook: Parameters<typeof publicWebhook>[0]): Reply {
    this.deps.onWebhooksChanged?.();
    return json(201, publicWebhook(webhook));
  }

  private list(): Reply {
    return json(200, {
      _data: this.deps.webhooks.list().map(publicWebhook),
      _meta: { links: { self: { href: `${this.deps.baseUrl()}/v2/webhooks` } } },
    });
  }

  /** The spec's order of refusals: content type, missing parameters, grant type, credentials, scope. */
  private token(contentType: string, text: string): Reply {
    if (contentType.split(';')[0]?.trim().toLowerCase() !== FORM_TYPE) return oauthErrors.invalidContentType();
    const form = new URLSearchParams(text);
    const missing = ['grant_type', 'client_id', 'client_secret'].filter((name) => !form.get(name));
    if (missing.length > 0) return oauthErrors.missingParameters(missing);
    const grantType = form.get('grant_type') ?? '';
    if (grantType !== 'client_credentials') return oauthErrors.unsupportedGrantType(grantType);
    const clientId = form.get('client_id') ?? '';
    const credential = this.deps.credentials.get(clientId);
    if (!credential) return oauthErrors.invalidClient();
    if (credential.secret !== form.get('client_secret')) return oauthErrors.unauthorizedClient();

    const granted = this.grantedScopes(clientId);
    const requested = (form.get('scope') ?? '').split(' ').filter((scope) => scope !== '');
    if (requested.some((scope) => !KNOWN_SCOPES.has(scope))) return oauthErrors.invalidScope();
    if (requested.some((scope) => !granted.includes(scope))) return oauthErrors.invalidGrant();

    // One stable token per credential and requested scope set, as v1 (stable for its lifetime).
    const key = `${clientId}\n${requested.length === 0 ? '*' : [...new Set(requested)].sort().join(' ')}`;
    const now = Date.now();
    const issued = this.deps.tokens.issue(key, now, this.deps.knobs().tokenTtlSeconds);
    if (issued.minted) this.deps.counters().tokensIssued += 1;
    const scope = requested.length === 0 ? granted : granted.filter((s) => requested.includes(s));
    return json(200, { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scope.join(' ') });
  }

  /** The live token's scopes now (requested ∩ granted), or undefined for no, unknown, expired or revoked token. */
  private bearerScopes(authorization: string | undefined): string[] | undefined {
    const bearer = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    if (bearer === undefined) return undefined;
    const key = this.deps.tokens.resolve(bearer, Date.now(), this.deps.knobs().tokenTtlSeconds);
    if (key === undefined) return undefined;
    const [clientId = '', requested = '*'] = key.split('\n');
    const granted = this.grantedScopes(clientId);
    return requested === '*' ? granted : granted.filter((scope) => requested.split(' ').includes(scope));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WebhookInputError('The request body is not valid JSON.', 400);
  }
}
