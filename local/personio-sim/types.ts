/** The simulator's public contract: what tests, the local runner and the benchmarks code against. */

export interface SimCredential {
  clientId: string;
  clientSecret: string;
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
  addEmployees(n: number): number[];
  removeEmployees(ids: number[]): void;
  /** Sets attribute values by key and bumps last_modified_at. `supervisor` also accepts a bare employee id or null. */
  updateEmployee(id: number, changes: Record<string, unknown>): void;
  /** Every issued token becomes invalid (403 afterwards), as if expired. */
  revokeTokens(): void;
  close(): Promise<void>;
}
