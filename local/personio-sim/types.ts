/** The simulator's public contract: what tests, the local runner and the benchmarks code against. */

export interface SimCredential {
  clientId: string;
  clientSecret: string;
  /**
   * Whether the credential's v2 tokens carry `personio:webhooks:read personio:webhooks:write` (default true). Turned
   * off later with the knob `webhooksDeniedClientIds`.
   */
  webhooks?: boolean;
}

export interface SimKnobs {
  /** Added per /v1 request, ±50 % jitter unless `latencyJitter` is false. */
  latencyMs: number;
  latencyJitter: boolean;
  /** Share of personnel-data GETs answered with a 5xx (seeded): 500 Personio envelope, 502 HTML, 503 other JSON. */
  errorRate: number;
  /** When set, 429 answers carry `Retry-After: <n>`. Personio documents no such header, so it is off by default. */
  retryAfterSeconds: number | null;
  /** Share of employee-list pages answered 200 with a truncated, unparsable body. */
  malformedRate: number;
  tokenTtlSeconds: number;
  /** Per credential, over the employees endpoints (list, by id, attributes). */
  employeesPerMinute: number;
  employeesPerSecond: number;
  /** Per IP; a breach starts `authCooldownSeconds` during which every auth call gets 429. */
  authPerMinute: number;
  authCooldownSeconds: number;
  /** Per IP, all /v1 traffic. */
  ipPerMinute: number;
  /** Keys the credential may read (`id` is always readable); null = all. Others are absent, not null. */
  readableAttributes: string[] | null;
  /** Empty relations as `value: {}` (validates against the official spec) instead of `value: null`. */
  strictSpec: boolean;
  /**
   * Employees counted in the list's `total_elements` (and `total_pages`) but never shown on a page, as when Personio's
   * list and its count disagree (an employee the credential may count but not list). Pages are cut from the list
   * without them, so the last page comes back short. By id they are still served.
   */
  hiddenEmployeeIds: number[];
  /** Client ids whose v2 tokens lack the webhook scopes (so POST /v2/webhooks answers 403). */
  webhooksDeniedClientIds: string[];
  /** A delivery not answered 2xx within this is a failure (Personio: 3 s). */
  ackTimeoutMs: number;
  /**
   * Delays before each retry attempt after the first (Personio: 6 attempts over up to 3 days). Each attempt makes up
   * to 2 immediate tries; only timeouts, network errors and 5xx other than 501 are retried.
   */
  webhookRetryDelaysMs: number[];
  /** Share of event deliveries (seeded) sent twice, as independent deliveries of the same body. */
  duplicateDeliveries: number;
  /** Deliveries of one change start in a shuffled order with a few ms of jitter, so they may arrive out of order. */
  shuffleDeliveries: boolean;
}

export interface SimOptions extends Partial<SimKnobs> {
  /** 0 (default) = a free port. */
  port?: number;
  host?: string;
  employees?: number;
  seed?: number;
  /** Extra `dynamic_9000…` text attributes per employee, for message-size tests. */
  extraAttributes?: number;
  /** Extra `dynamic_9500…` custom integer attributes (type `integer`, values as digit strings, as Personio sends them). */
  integerAttributes?: number;
  credentials?: SimCredential[];
  /** The `company_id` of webhook deliveries (one simulator = one company). Default "10001". */
  companyId?: string;
}

export interface SimStats {
  /** All /v1 requests; /__sim control calls never count. */
  requests: number;
  authCalls: number;
  tokensIssued: number;
  employeeListRequests: number;
  rateLimited: number;
  byStatus: Record<string, number>;
  /** Largest explicit `limit` query value seen on the list endpoint, valid or not. */
  maxLimitRequested: number;
  maxConcurrent: number;
  /** process.cpuUsage() user + system since start or the last reset. */
  cpuMs: number;
  /** /v2 traffic, counted apart so v1 figures (`requests`, `byStatus`…) stay v1 only. */
  v2: { requests: number; authCalls: number; tokensIssued: number; webhookCalls: number; byStatus: Record<string, number> };
  /** Webhook delivery: every HTTP try made, those acknowledged, events given up, and deliveries not yet settled. */
  webhooks: { attempts: number; delivered: number; failed: number; pending: number };
}

export type SimWebhookStatus = 'ENABLED' | 'DISABLED';
export type SimWebhookAuthType = 'NONE' | 'TOKEN' | 'CUSTOM';

/** A registered webhook as GET /v2/webhooks shows it (the token and header values are never shown). */
export interface SimWebhook {
  id: string;
  url: string;
  description: string;
  status: SimWebhookStatus;
  auth_type: SimWebhookAuthType;
  enabled_events: string[];
  created_at: string;
  updated_at: string;
}

/** One HTTP try of a webhook delivery. */
export interface SimDeliveryRecord {
  /** Shared by every try of one delivery (a duplicated delivery has its own). */
  deliveryId: string;
  webhookId: string;
  event_name: string;
  payload: Record<string, unknown>;
  occurred_at: string;
  /** 1 for the first attempt, up to 1 + webhookRetryDelaysMs.length. */
  attempt: number;
  /** 1 or 2: the fast try within the attempt. */
  try: number;
  /** The receiver's HTTP status; null when there was none (timeout, network error). */
  status: number | null;
  /** 'timeout' or 'network: <code>'; null when the receiver answered in time. */
  error: string | null;
  /** 2xx within the acknowledgement timeout. */
  ok: boolean;
  /** When the try started (ISO). */
  at: string;
  durationMs: number;
}

/** Raw (wrapped) attribute objects as served with all attributes readable. */
export interface SimEmployeeView {
  id: number;
  email: string | null;
  status: string;
  attributes: Record<string, unknown>;
}

export interface PersonioSim {
  /** API root, e.g. http://127.0.0.1:PORT; paths are /v1/... */
  url: string;
  port: number;
  stats(): SimStats;
  resetStats(): void;
  /** Forgets every rate-limit window and the auth cool-down, so back-to-back benchmark runs start alike. */
  resetRateLimits(): void;
  setKnobs(k: Partial<SimKnobs>): void;
  knobs(): SimKnobs;
  employees(): SimEmployeeView[];
  /**
   * The changes below (and their /__sim/ controls) fire webhook events, delivered in the background: add fires
   * person.created and employment.created; remove person.deleted and employment.deleted; an update person.updated
   * and/or employment.updated by the attributes whose values changed (events.ts), and employment.terminated when the
   * status becomes inactive.
   */
  addEmployees(n: number): number[];
  removeEmployees(ids: number[]): void;
  /** Sets attribute values by key and bumps last_modified_at. `supervisor` also accepts a bare employee id or null. */
  updateEmployee(id: number, changes: Record<string, unknown>): void;
  /** Sets status inactive and termination_date (default today, YYYY-MM-DD); fires employment.updated and .terminated. */
  terminateEmployee(id: number, date?: string): void;
  /** Every issued token (v1 and v2) becomes invalid (403, or 401 on /v2, afterwards), as if expired. */
  revokeTokens(): void;
  /** The `company_id` of webhook deliveries. */
  companyId: string;
  webhooks(): SimWebhook[];
  /** Delivers an event (e.g. employment.started, which Personio fires on the start date) for an employee. */
  emitWebhookEvent(eventName: string, employeeId: number): void;
  /** Every delivery try so far, oldest first. */
  webhookDeliveries(): SimDeliveryRecord[];
  clearWebhookDeliveries(): void;
  /** Resolves once no delivery is pending (in flight or waiting for a retry). */
  webhooksIdle(): Promise<void>;
  close(): Promise<void>;
}
