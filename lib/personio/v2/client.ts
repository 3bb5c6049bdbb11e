import ky, { HTTPError, TimeoutError, type KyInstance, type Options as KyOptions } from 'ky';
import type * as z from 'zod';
import { sleep } from '../../util/concurrency.js';
import type { PersonioCredentials } from '../client.js';
import { PersonioError, type PersonioErrorCode } from '../errors.js';
import { v2ErrorSchema, v2TokenSchema, webhookListSchema, webhookSchema, type Webhook } from './schemas.js';

export type { Webhook } from './schemas.js';

export interface PersonioV2ClientOptions {
  /** The Personio root, as for v1 (PERSONIO_BASE_URL); a trailing /v1 is tolerated. */
  baseUrl: string;
  /** Sent as X-Personio-App-ID on every call. */
  appId: string;
  credentials: PersonioCredentials;
  /** Epoch ms after which no request or retry starts. */
  deadline?: number;
  /** Per attempt. */
  timeoutMs?: number;
  /** Retries of a safe call (token, list, delete) after a timeout, a network error, 429 or 5xx. Creating is never retried. */
  retryLimit?: number;
  fetch?: typeof globalThis.fetch;
}

export interface NewWebhook {
  url: string;
  description: string;
  /** Sent back verbatim in the Authorization header of every delivery (auth_type TOKEN). */
  token: string;
  enabledEvents: readonly string[];
}

/** The scope a credential needs to register webhooks. */
export const WEBHOOKS_WRITE_SCOPE = 'personio:webhooks:write';

const TOKEN_PATH = '/v2/auth/token';
const WEBHOOKS_PATH = '/v2/webhooks';
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_DELAY_MS = 500;
/** A tenant has one webhook of ours; more pages than this means something else is wrong. */
const MAX_LIST_PAGES = 10;

const statusCodes: Record<number, PersonioErrorCode> = { 401: 'invalid_credentials', 403: 'forbidden', 404: 'not_found', 429: 'rate_limited' };

/** The v2 root: the configured Personio root without a trailing /v1. */
function v2Root(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/**
 * Personio's v2 API as connect needs it: a client-credentials token (with the scopes it was granted) and webhook
 * management. One instance per connect request: the token is kept for the instance's lifetime only. No message it
 * throws contains the client secret, the access token or a webhook token (Personio's own messages are scrubbed too).
 */
export class PersonioV2Client {
  private readonly http: KyInstance;
  private readonly root: string;
  private readonly timeoutMs: number;
  private readonly retryLimit: number;
  private token: { value: string; scopes: readonly string[] | null } | undefined;
  /** Everything that must never appear in a message. */
  private readonly secrets = new Set<string>();

  constructor(private readonly options: PersonioV2ClientOptions) {
    this.root = v2Root(options.baseUrl);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retryLimit = options.retryLimit ?? 1;
    this.secrets.add(options.credentials.clientSecret);
    this.http = ky.create({
      retry: 0,
      throwHttpErrors: true,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      headers: { 'X-Personio-App-ID': options.appId, Accept: 'application/json' },
    });
  }

  /** Obtains a v2 token; answers the scopes Personio granted, or null when its answer does not list them. */
  async authenticate(): Promise<{ scopes: readonly string[] | null }> {
    if (this.token) return { scopes: this.token.scopes };
    const { clientId, clientSecret } = this.options.credentials;
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    let text: string;
    try {
      text = await this.send(TOKEN_PATH, { method: 'post', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, true);
    } catch (error) {
      if (error instanceof PersonioError && error.status !== undefined && [400, 401, 403].includes(error.status)) {
        throw new PersonioError('invalid_credentials', 'Personio rejected the Client ID or Client Secret for its v2 API.', { status: error.status });
      }
      throw error;
    }
    const parsed = this.parse(text, v2TokenSchema, TOKEN_PATH);
    this.secrets.add(parsed.access_token);
    const scopes = parsed.scope === undefined ? null : parsed.scope.split(/\s+/).filter((s) => s !== '');
    this.token = { value: parsed.access_token, scopes };
    return { scopes };
  }

  /** Registers an ENABLED webhook authenticated by `token`. Never retried: a retry after a lost answer would register it twice. */
  async createWebhook(input: NewWebhook): Promise<Webhook> {
    this.secrets.add(input.token);
    const json = {
      url: input.url,
      description: input.description,
      status: 'ENABLED',
      auth_type: 'TOKEN',
      token: input.token,
      enabled_events: [...input.enabledEvents],
    };
    const text = await this.authorized(WEBHOOKS_PATH, { method: 'post', json }, false);
    return this.parse(text, webhookSchema, WEBHOOKS_PATH);
  }

  /** Every webhook of the company (following Personio's next-page links on its own host only). */
  async listWebhooks(): Promise<Webhook[]> {
    const found: Webhook[] = [];
    let path: string | undefined = WEBHOOKS_PATH;
    for (let page = 0; path !== undefined && page < MAX_LIST_PAGES; page++) {
      const text = await this.authorized(path, { method: 'get' }, true);
      const { data, next } = this.parse(text, webhookListSchema, WEBHOOKS_PATH);
      found.push(...data);
      path = next === undefined ? undefined : this.samePersonio(next);
    }
    return found;
  }

  /** Deletes a webhook; answers false when Personio no longer has it (404: already gone). */
  async deleteWebhook(id: string): Promise<boolean> {
    try {
      await this.authorized(`${WEBHOOKS_PATH}/${encodeURIComponent(id)}`, { method: 'delete' }, true);
      return true;
    } catch (error) {
      if (error instanceof PersonioError && error.code === 'not_found') return false;
      throw error;
    }
  }

  /** A next-page link as a path, or undefined when it points anywhere but this Personio (the token stays here). */
  private samePersonio(href: string): string | undefined {
    try {
      const url = new URL(href, this.root);
      return url.origin === new URL(this.root).origin ? `${url.pathname}${url.search}` : undefined;
    } catch {
      return undefined;
    }
  }

  private async authorized(path: string, options: KyOptions, safe: boolean): Promise<string> {
    await this.authenticate();
    return this.send(path, { ...options, headers: { Authorization: `Bearer ${this.token?.value ?? ''}` } }, safe);
  }

  private timeLeft(): number {
    return this.options.deadline === undefined ? Number.POSITIVE_INFINITY : this.options.deadline - Date.now();
  }

  private async send(path: string, options: KyOptions, safe: boolean): Promise<string> {
    const url = `${this.root}${path}`;
    for (let retry = 0; ; retry++) {
      if (this.timeLeft() <= 0) throw new PersonioError('timeout', 'The time budget for Personio requests is used up.');
      let failure: unknown;
      try {
        const response = await this.http(url, { ...options, timeout: Math.max(1, Math.min(this.timeoutMs, this.timeLeft())) });
        return await response.text();
      } catch (error) {
        failure = error;
      }
      const retryable = !(failure instanceof HTTPError) || RETRY_STATUSES.has(failure.response.status);
      const delay = RETRY_DELAY_MS * 2 ** retry;
      if (!safe || !retryable || retry >= this.retryLimit || delay >= this.timeLeft()) throw await this.toError(failure, path);
      if (failure instanceof HTTPError) void failure.response.body?.cancel().catch(() => undefined);
      await sleep(delay);
    }
  }

  private parse<S extends z.ZodType>(text: string, schema: S, path: string): z.output<S> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PersonioError('bad_response', `Personio sent a response that is not JSON (${path}).`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      // Only the path of the first issue: a value could be the token we just sent.
      const where = parsed.error.issues[0]?.path.map(String).join('.') || '(root)';
      throw new PersonioError('bad_response', `Personio sent an unexpected response (${path}; ${where}).`);
    }
    return parsed.data;
  }

  private async toError(error: unknown, path: string): Promise<PersonioError> {
    const where = path.split('?')[0] ?? path;
    if (error instanceof PersonioError) return error;
    if (error instanceof HTTPError) {
      const status = error.response.status;
      const personioMessage = this.scrub(await readMessage(error.response));
      const code: PersonioErrorCode = statusCodes[status] ?? (status >= 500 ? 'unavailable' : 'bad_response');
      return new PersonioError(code, `Personio answered ${status} on ${where}${personioMessage ? `: ${personioMessage}` : ''}`, {
        status,
        ...(personioMessage ? { personioMessage } : {}),
      });
    }
    if (error instanceof TimeoutError || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))) {
      return new PersonioError('timeout', `Personio did not answer in time on ${where}.`);
    }
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    return new PersonioError('unavailable', `Personio could not be reached on ${where} (${this.scrub(reason) ?? 'no reason given'}).`);
  }

  /** Personio's message without anything secret in it (it might echo what we sent). */
  private scrub(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    let clean = text;
    for (const secret of this.secrets) if (secret !== '') clean = clean.split(secret).join('[redacted]');
    return clean;
  }
}

async function readMessage(response: Response): Promise<string | undefined> {
  try {
    const parsed = v2ErrorSchema.safeParse(JSON.parse(await response.text()));
    if (!parsed.success) return undefined;
    const first = parsed.data.errors?.[0];
    const message = (first?.detail ?? first?.title ?? parsed.data.error?.message)?.trim();
    return message ? message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
