import { createHash } from 'node:crypto';
import ky, { HTTPError, TimeoutError, type KyInstance, type Options as KyOptions } from 'ky';
import type * as z from 'zod';
import { PersonioError, type PersonioErrorCode } from './errors.js';
import { RateLimiter, personioEmployeeWindows } from './rate-limiter.js';
import { sleep } from '../util/concurrency.js';
import { truncate } from '../util/text.js';
import {
  attributesResponseSchema,
  authResponseSchema,
  employeeByIdSchema,
  employeesPageSchema,
  errorEnvelopeSchema,
  type AttributeInfo,
  type EmployeesPage,
  type RawEmployee,
} from './schemas.js';

export interface PersonioCredentials {
  clientId: string;
  clientSecret: string;
}

export interface PersonioClientOptions {
  /** API root, e.g. https://api.personio.de (a trailing /v1 is tolerated). */
  baseUrl: string;
  /** Sent as X-Personio-App-ID on every call, as Personio asks integrations to. */
  appId: string;
  credentials: PersonioCredentials;
  /** Epoch ms after which no request or retry starts (the Lambda's remaining time). */
  deadline?: number;
  /** Per attempt. */
  timeoutMs?: number;
  retryLimit?: number;
  /** Shared per credential by default, so concurrent pagers of one tenant stay under Personio's limits. */
  limiter?: RateLimiter;
  fetch?: typeof globalThis.fetch;
}

export interface ListEmployeesQuery {
  limit: number;
  offset: number;
  attributes?: readonly string[];
  updatedSince?: string;
}

export interface PersonioClientStats {
  requests: number;
  rateLimited: number;
  authCalls: number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

// Personio hands out the same token for 24 h and allows parallel use, while /v1/auth is limited to
// 60/min with a 60 s cool-down: one token per credential per warm Lambda, refreshed early.
const tokenCache = new Map<string, CachedToken>();
const tokenInFlight = new Map<string, Promise<CachedToken>>();
const limiters = new Map<string, RateLimiter>();
const TOKEN_REFRESH_MARGIN_MS = 10 * 60_000;
const DEFAULT_TOKEN_TTL_S = 24 * 60 * 60;
const AUTH_COOLDOWN_MS = 60_000;
/** Time kept for the request itself: no wait may end later than this before the deadline. */
const REQUEST_MARGIN_MS = 500;
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
/** Statuses on which the HTTP RFCs give Retry-After a meaning for a client that retries. */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);
const MAX_RETRY_AFTER_MS = 5 * 60_000;
const BACKOFF_LIMIT_MS = 30_000;
/** setTimeout's largest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;
const AUTH_PATH = '/v1/auth';
/** Personio's maximum `limit` on the employees list since January 2025. */
export const MAX_PAGE_SIZE = 100;

/** Joins the configured root and a `/v1/...` path without dropping or doubling `/v1`. */
export function personioUrl(baseUrl: string, path: string): string {
  const root = baseUrl.replace(/\/+$/, '');
  const rel = root.endsWith('/v1') && path.startsWith('/v1/') ? path.slice(3) : path;
  return root + rel;
}

function credentialKey(baseUrl: string, credentials: PersonioCredentials): string {
  // One Personio, however its root is spelled: `url`, `url/` and `url/v1` share a token and a limiter.
  const root = personioUrl(baseUrl, '/v1/').replace(/\/v1\/$/, '');
  return createHash('sha256').update(`${root}\0${credentials.clientId}\0${credentials.clientSecret}`).digest('hex');
}

/** Forgets every cached token (tests, and a disconnect that must not leave a usable token behind). */
export function clearTokenCache(): void {
  tokenCache.clear();
  tokenInFlight.clear();
}

function backoffMs(retry: number): number {
  // Personio asks for at least 1 s between retries; grow from there, with jitter so parallel pagers spread out.
  return Math.min(BACKOFF_LIMIT_MS, 1_000 * 2 ** (retry - 1) * (1 + Math.random() * 0.5));
}

/** Retry-After in seconds or as an HTTP date, in ms from now; undefined when absent or unreadable. */
function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  // An HTTP date names a weekday and a month; anything else that is not a number of seconds is unreadable.
  const ms = /^\d+(?:\.\d+)?$/.test(value) ? Number(value) * 1_000 : /[a-z]/i.test(value) ? Date.parse(value) - Date.now() : Number.NaN;
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/** How long to wait before the next attempt, or undefined when the failure is final. */
function retryDelayMs(error: unknown, retry: number, path: string): number | undefined {
  // Timeouts and network errors are worth another try; so are the statuses below.
  if (!(error instanceof HTTPError)) return backoffMs(retry);
  const status = error.response.status;
  if (!RETRY_STATUSES.has(status)) return undefined;
  // The auth endpoint cools down for 60 s after a breach: requestToken waits that out itself.
  if (status === 429 && path === AUTH_PATH) return undefined;
  return (RETRY_AFTER_STATUSES.has(status) ? retryAfterMs(error.response) : undefined) ?? backoffMs(retry);
}

function seconds(ms: number): string {
  return `${Math.ceil(ms / 100) / 10} s`;
}

export class PersonioClient {
  readonly stats: PersonioClientStats = { requests: 0, rateLimited: 0, authCalls: 0 };
  private readonly key: string;
  private readonly http: KyInstance;
  private readonly limiter: RateLimiter;
  private readonly timeoutMs: number;
  private readonly retryLimit: number;

  constructor(private readonly options: PersonioClientOptions) {
    this.key = credentialKey(options.baseUrl, options.credentials);
    this.limiter = options.limiter ?? limiterFor(this.key);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retryLimit = options.retryLimit ?? 5;
    // Retries are ours (send), not ky's: every wait between attempts must be checked against the deadline.
    this.http = ky.create({
      retry: 0,
      throwHttpErrors: true,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      headers: { 'X-Personio-App-ID': options.appId, Accept: 'application/json' },
    });
  }

  /** Obtains (or reuses) a token: connect calls it to check credentials. */
  async authenticate(): Promise<void> {
    await this.token();
  }

  async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
    const limit = Math.min(Math.max(1, Math.trunc(query.limit)), MAX_PAGE_SIZE);
    const params = new URLSearchParams({ limit: String(limit), offset: String(Math.max(0, Math.trunc(query.offset))) });
    for (const attribute of query.attributes ?? []) params.append('attributes[]', attribute);
    if (query.updatedSince) params.set('updated_since', query.updatedSince);
    return this.get(`/v1/company/employees?${params}`, employeesPageSchema);
  }

  async getEmployee(id: number): Promise<RawEmployee> {
    const body = await this.get(`/v1/company/employees/${encodeURIComponent(String(id))}`, employeeByIdSchema);
    return body.data;
  }

  async listAttributes(): Promise<AttributeInfo[]> {
    const body = await this.get('/v1/company/employees/attributes', attributesResponseSchema);
    return body.data;
  }

  private timeLeft(): number {
    return this.options.deadline === undefined ? Number.POSITIVE_INFINITY : this.options.deadline - Date.now();
  }

  /** The latest any wait may end: the deadline less the time the request after it needs. */
  private waitUntil(): number {
    return this.options.deadline === undefined ? Number.POSITIVE_INFINITY : this.options.deadline - REQUEST_MARGIN_MS;
  }

  /**
   * The error for a wait that does not fit the budget: `timeout` once the budget is used up, otherwise the cause's own
   * code, saying that the wait would have passed the budget.
   */
  private overBudget(cause: PersonioError, wait: string): PersonioError {
    const detail = {
      ...(cause.status !== undefined ? { status: cause.status } : {}),
      ...(cause.personioMessage ? { personioMessage: cause.personioMessage } : {}),
      cause,
    };
    const said = cause.message.replace(/\.?$/, '.');
    if (this.timeLeft() <= 0) return new PersonioError('timeout', `The time budget for Personio requests is used up. ${said}`, detail);
    return new PersonioError(cause.code, `${said} ${wait} would pass the time budget for Personio requests.`, detail);
  }

  private async get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    let token = await this.token();
    let reauthenticated = false;
    let malformed = 0;
    for (;;) {
      try {
        const text = await this.send(path, { method: 'get', headers: { Authorization: `Bearer ${token}` } });
        return parseBody(text, schema, path);
      } catch (error) {
        if (!(error instanceof PersonioError)) throw error;
        // 401 = no/bad header, 403 = token invalid or expired (Personio uses both): re-authenticate once.
        if (!reauthenticated && (error.status === 401 || error.status === 403)) {
          reauthenticated = true;
          this.dropToken(token);
          token = await this.token();
          continue;
        }
        // A truncated or malformed page is usually a transient proxy fault: up to two more tries.
        if (error.code === 'bad_response' && error.status === undefined && malformed < 2 && this.timeLeft() > 2_000) {
          malformed++;
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * One call and its retries (POST is only ever /v1/auth, safe to repeat). Every wait in it (the limiter, back-off,
   * Retry-After) ends before the deadline less the request margin, or the call fails at once.
   */
  private async send(path: string, options: KyOptions): Promise<string> {
    const url = personioUrl(this.options.baseUrl, path);
    const paced = options.method === 'get';
    for (let retry = 0; ; retry++) {
      if (this.timeLeft() <= 0) throw new PersonioError('timeout', 'The time budget for Personio requests is used up.');
      // Every attempt, retries included, passes the limiter: a retry must not break the pacing.
      if (paced) await this.limiter.acquire(this.waitUntil());
      this.stats.requests++;
      let failure: unknown;
      try {
        // Measured after the limiter's wait, so the attempt cannot outlast the deadline either.
        const response = await this.http(url, { ...options, timeout: Math.max(1, Math.min(this.timeoutMs, this.timeLeft())) });
        return await response.text();
      } catch (error) {
        failure = error;
      }
      if (failure instanceof HTTPError && failure.response.status === 429) this.stats.rateLimited++;
      const delay = retry < this.retryLimit ? retryDelayMs(failure, retry + 1, path) : undefined;
      if (delay === undefined) throw await toPersonioError(failure, path);
      if (delay > 0 && Date.now() + delay > this.waitUntil()) throw this.overBudget(await toPersonioError(failure, path), `Retrying in ${seconds(delay)}`);
      // Nobody reads a body we retry past; cancelling it frees the connection now rather than at garbage collection.
      if (failure instanceof HTTPError) void failure.response.body?.cancel().catch(() => undefined);
      await sleep(delay);
    }
  }

  private async token(): Promise<string> {
    const cached = tokenCache.get(this.key);
    if (cached && cached.expiresAt - TOKEN_REFRESH_MARGIN_MS > Date.now()) return cached.token;
    let pending = tokenInFlight.get(this.key);
    if (!pending) {
      pending = this.requestToken().finally(() => tokenInFlight.delete(this.key));
      tokenInFlight.set(this.key, pending);
    }
    return (await this.withinBudget(pending)).token;
  }

  /** Another client's auth, cool-down included, is bounded by that client's budget, which may be longer than ours. */
  private async withinBudget<T>(pending: Promise<T>): Promise<T> {
    const waitUntil = this.waitUntil();
    if (waitUntil === Number.POSITIVE_INFINITY) return pending;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      const late = (): void => reject(new PersonioError('timeout', 'Waiting any longer for a token would pass the time budget for Personio requests.'));
      timer = setTimeout(late, Math.min(Math.max(0, waitUntil - Date.now()), MAX_TIMER_MS));
    });
    try {
      return await Promise.race([pending, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async requestToken(): Promise<CachedToken> {
    this.stats.authCalls++;
    const { clientId, clientSecret } = this.options.credentials;
    let text: string | undefined;
    for (let cooldowns = 0; text === undefined; ) {
      try {
        text = await this.send(AUTH_PATH, { method: 'post', json: { client_id: clientId, client_secret: clientSecret } });
      } catch (error) {
        // Personio answers wrong credentials on /v1/auth with 400, 401 or 403 depending on the era.
        if (error instanceof PersonioError && error.status !== undefined && [400, 401, 403, 422].includes(error.status)) {
          throw new PersonioError('invalid_credentials', 'Personio rejected the Client ID or Client Secret.', {
            status: error.status,
            ...(error.personioMessage ? { personioMessage: error.personioMessage } : {}),
          });
        }
        // After a breach the auth endpoint refuses everything for 60 s; asking sooner only extends it.
        if (error instanceof PersonioError && error.code === 'rate_limited' && cooldowns < 2) {
          if (Date.now() + AUTH_COOLDOWN_MS > this.waitUntil())
            throw this.overBudget(error, `Waiting out the auth endpoint's ${seconds(AUTH_COOLDOWN_MS)} cool-down`);
          cooldowns++;
          await sleep(AUTH_COOLDOWN_MS);
          continue;
        }
        throw error;
      }
    }
    const body = parseBody(text, authResponseSchema, AUTH_PATH);
    const ttlS = body.data.expires_in && body.data.expires_in > 0 ? body.data.expires_in : DEFAULT_TOKEN_TTL_S;
    const entry = { token: body.data.token, expiresAt: Date.now() + ttlS * 1_000 };
    tokenCache.set(this.key, entry);
    return entry;
  }

  private dropToken(token: string): void {
    // Only drop the token that failed: a concurrent page may already have fetched a fresh one.
    if (tokenCache.get(this.key)?.token === token) tokenCache.delete(this.key);
  }
}

function limiterFor(key: string): RateLimiter {
  let limiter = limiters.get(key);
  if (!limiter) {
    limiter = new RateLimiter({ windows: personioEmployeeWindows });
    limiters.set(key, limiter);
  }
  return limiter;
}

function parseBody<S extends z.ZodType>(text: string, schema: S, path: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PersonioError('bad_response', `Personio sent a response that is not JSON (${pathOnly(path)}).`, { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.map(pathSegment).join('.') || '(root)'}: ${issue.message}` : 'unexpected shape';
    throw new PersonioError('bad_response', `Personio sent an unexpected response (${pathOnly(path)}; ${where}).`);
  }
  return parsed.data;
}

/**
 * A segment of the issue's path. Keys come from Personio's payload (attribute keys), so a long one is cut: the
 * message lands in the run record (DynamoDB's 400 KB item limit) and must not repeat the page.
 */
function pathSegment(part: PropertyKey): string {
  const text = String(part);
  return text.length > 40 ? truncate(text, 33) : text;
}

function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}

const statusCodes: Record<number, PersonioErrorCode> = {
  401: 'invalid_credentials',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited',
};

async function toPersonioError(error: unknown, path: string): Promise<PersonioError> {
  if (error instanceof PersonioError) return error;
  const where = pathOnly(path);
  if (error instanceof HTTPError) {
    const status = error.response.status;
    const personioMessage = await readPersonioMessage(error.response);
    const code: PersonioErrorCode = statusCodes[status] ?? (status >= 500 ? 'unavailable' : 'bad_response');
    const detail = personioMessage ? `: ${personioMessage}` : '';
    return new PersonioError(code, `Personio answered ${status} on ${where}${detail}`, {
      status,
      ...(personioMessage ? { personioMessage } : {}),
    });
  }
  if (error instanceof TimeoutError || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))) {
    return new PersonioError('timeout', `Personio did not answer in time on ${where}.`);
  }
  // Network errors: the message of undici's TypeError names host and cause, never headers.
  const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  return new PersonioError('unavailable', `Personio could not be reached on ${where} (${reason}).`);
}

async function readPersonioMessage(response: Response): Promise<string | undefined> {
  try {
    const parsed = errorEnvelopeSchema.safeParse(JSON.parse(await response.text()));
    const message = parsed.success ? parsed.data.error?.message?.trim() : undefined;
    return message ? message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
