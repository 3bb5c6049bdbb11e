import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PersonioClient, clearTokenCache, personioUrl, type PersonioClientOptions } from '../lib/personio/client.js';
import { PersonioError } from '../lib/personio/errors.js';
import { pageEmployees } from '../lib/personio/pager.js';
import { RateLimiter, personioEmployeeWindows } from '../lib/personio/rate-limiter.js';
import { defaultKnobs, startPersonioSim, type PersonioSim, type SimCredential } from '../local/personio-sim/index.js';

/**
 * The Personio client over real HTTP against the simulator. Waits of a second and more are the client's real
 * back-off (Personio asks for ≥ 1 s between retries), so they are budgeted rather than faked.
 */

const CREDENTIALS: SimCredential = { clientId: 'papi-client-under-test', clientSecret: 'papi-s3cret-4711-must-not-leak' };
const WRONG_SECRET = 'papi-wrong-s3cret-0815-must-not-leak';
const APP_ID = 'DADO_IMPORT_TEST';
const EMPLOYEES = 250;

/** One request as our fetch wrapper saw it leave, and what came back. */
interface Sent {
  method: string;
  url: URL;
  appId: string | null;
  authorization: string | null;
  at: number;
  status?: number;
  answeredAt?: number;
}

/** Wraps the real fetch so a test can see every request the client sends, retries included. */
function recordingFetch(sent: Sent[]): typeof globalThis.fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const headers = request ? request.headers : new Headers(init?.headers);
    const entry: Sent = {
      method: request?.method ?? init?.method ?? 'GET',
      url: new URL(request ? request.url : String(input)),
      appId: headers.get('x-personio-app-id'),
      authorization: headers.get('authorization'),
      at: Date.now(),
    };
    sent.push(entry);
    const response = await globalThis.fetch(input, init);
    entry.status = response.status;
    entry.answeredAt = Date.now();
    return response;
  };
}

/** The PersonioError a call rejects with; fails the test when it resolves or rejects with anything else. */
async function rejection(call: Promise<unknown>): Promise<PersonioError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(PersonioError);
    return error as PersonioError;
  }
  throw new Error('expected the call to fail with a PersonioError, but it succeeded');
}

/** Every rendering of an error that could end up in a log line or a run report. */
function renderings(error: PersonioError): string[] {
  return [error.message, JSON.stringify(error), String(error.cause), String(error), inspect(error, { depth: 10 }), error.stack ?? '', error.personioMessage ?? ''];
}

/** Personio's limits, but not shared with earlier tests' clients: for tests that measure time. */
const ownLimiter = (): RateLimiter => new RateLimiter({ windows: personioEmployeeWindows });

// Node timers may fire up to a millisecond before Date.now() says the delay is over; allow that much, no more.
const TIMER_SLACK_MS = 5;

describe('PersonioClient against the Personio simulator', () => {
  let sim: PersonioSim;

  const client = (overrides: Partial<PersonioClientOptions> = {}): PersonioClient =>
    new PersonioClient({ baseUrl: sim.url, appId: APP_ID, credentials: CREDENTIALS, ...overrides });

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: EMPLOYEES, seed: 11, credentials: [CREDENTIALS, { clientId: 'papi-other-client', clientSecret: 'papi-other-secret' }] });
  });

  afterAll(async () => {
    await sim?.close();
  });

  beforeEach(() => {
    clearTokenCache();
    sim.setKnobs(defaultKnobs);
    sim.resetRateLimits();
    sim.resetStats();
  });

  describe('authenticate()', () => {
    it('obtains a token with good credentials, and the next call needs no second auth', async () => {
      // Prepare
      const personio = client();

      // Act
      await personio.authenticate();
      const page = await personio.listEmployees({ limit: 5, offset: 0 });

      // Assess
      expect(page.data).toHaveLength(5);
      expect(sim.stats().authCalls).toBe(1);
      expect(personio.stats.authCalls).toBe(1);
    });

    it('rejects wrong credentials as invalid_credentials with the status, never echoing the secret, and caches nothing', async () => {
      // Prepare
      const personio = client({ credentials: { clientId: CREDENTIALS.clientId, clientSecret: WRONG_SECRET } });

      // Act
      const error = await rejection(personio.authenticate());
      const again = await rejection(personio.authenticate());

      // Assess
      expect(error.code).toBe('invalid_credentials');
      expect(error.status).toBe(401);
      expect(error.retryable).toBe(false);
      for (const text of renderings(error)) expect(text).not.toContain(WRONG_SECRET);
      // A 401 from /v1/auth is final: no retries; and a failure is not cached, so the second try asks again.
      expect(again.code).toBe('invalid_credentials');
      expect(sim.stats().authCalls).toBe(2);
    });

    it('rejects an unknown client id the same way', async () => {
      // Prepare
      const personio = client({ credentials: { clientId: 'papi-nobody', clientSecret: WRONG_SECRET } });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 1, offset: 0 }));

      // Assess
      expect(error.code).toBe('invalid_credentials');
      expect(error.status).toBe(401);
      for (const text of renderings(error)) expect(text).not.toContain(WRONG_SECRET);
      expect(sim.stats().employeeListRequests).toBe(0);
    });
  });

  describe('the token cache', () => {
    it('authenticates once for 10 concurrent calls, and a second client with the same credentials reuses the token', async () => {
      // Prepare
      const first = client();
      const second = client();

      // Act
      const pages = await Promise.all(Array.from({ length: 10 }, (_, i) => first.listEmployees({ limit: 10, offset: i * 10 })));
      const authAfterFirst = sim.stats().authCalls;
      const secondPage = await second.listEmployees({ limit: 10, offset: 100 });

      // Assess
      expect(pages.every((page) => page.data.length === 10)).toBe(true);
      expect(authAfterFirst).toBe(1);
      expect(first.stats.authCalls).toBe(1);
      expect(secondPage.data).toHaveLength(10);
      expect(sim.stats().authCalls).toBe(1);
      expect(second.stats.authCalls).toBe(0);
    });

    it('keeps tokens apart per credential', async () => {
      // Prepare
      const sent: Sent[] = [];
      const ours = client({ fetch: recordingFetch(sent) });
      const theirs = client({ credentials: { clientId: 'papi-other-client', clientSecret: 'papi-other-secret' }, fetch: recordingFetch(sent) });

      // Act
      await ours.listEmployees({ limit: 1, offset: 0 });
      await theirs.listEmployees({ limit: 1, offset: 0 });

      // Assess
      expect(sim.stats().authCalls).toBe(2);
      const bearers = sent.filter((s) => s.method === 'GET').map((s) => s.authorization);
      expect(bearers).toHaveLength(2);
      expect(bearers[0]).toMatch(/^Bearer papi-/);
      expect(bearers[1]).toMatch(/^Bearer papi-/);
      expect(bearers[0]).not.toBe(bearers[1]);
    });
  });

  describe('re-authentication', () => {
    it('re-authenticates once when the token is revoked between calls, and the call succeeds', async () => {
      // Prepare
      const personio = client();
      await personio.listEmployees({ limit: 5, offset: 0 });

      // Act
      sim.revokeTokens();
      const page = await personio.listEmployees({ limit: 5, offset: 5 });

      // Assess
      expect(page.data).toHaveLength(5);
      expect(sim.stats().authCalls).toBe(2);
      expect(sim.stats().byStatus['403']).toBe(1);
      expect(personio.stats.authCalls).toBe(2);
    });

    it('fails typed (forbidden) when the fresh token is refused too, after exactly one re-auth', async () => {
      // Prepare: a working token first, then every token Personio hands out is already expired
      const personio = client();
      await personio.listEmployees({ limit: 1, offset: 0 });
      sim.setKnobs({ tokenTtlSeconds: 0 });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 1, offset: 1 }));

      // Assess
      expect(error.code).toBe('forbidden');
      expect(error.status).toBe(403);
      expect(sim.stats().authCalls).toBe(2);
      expect(sim.stats().byStatus['403']).toBe(2);
    });

    it('fails typed (invalid_credentials) when the credential was revoked in Personio mid-run', async () => {
      // Prepare: a token cached against one simulator; then the same host comes back without that credential
      const first = await startPersonioSim({ employees: 5, credentials: [CREDENTIALS] });
      const port = first.port;
      const personio = client({ baseUrl: first.url });
      await personio.listEmployees({ limit: 1, offset: 0 });
      await first.close();
      const revoked = await startPersonioSim({ port, employees: 5, credentials: [{ clientId: 'papi-someone-else', clientSecret: 'x' }] });

      try {
        // Act
        const error = await rejection(personio.listEmployees({ limit: 1, offset: 1 }));

        // Assess
        expect(error.code).toBe('invalid_credentials');
        expect(error.status).toBe(401);
        for (const text of renderings(error)) expect(text).not.toContain(CREDENTIALS.clientSecret);
        expect(revoked.stats().byStatus['403']).toBe(1);
        expect(revoked.stats().authCalls).toBe(1);
      } finally {
        await revoked.close();
      }
    });
  });

  describe('what every request carries', () => {
    it('sends X-Personio-App-ID on every call: auth, list, by id, attributes, re-auth and retries', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = client({ fetch: recordingFetch(sent), retryLimit: 1 });

      // Act
      await personio.authenticate();
      const page = await personio.listEmployees({ limit: 3, offset: 0 });
      const firstId = Number(page.data[0]?.attributes['id']?.value);
      await personio.getEmployee(firstId);
      await personio.listAttributes();
      sim.revokeTokens();
      await personio.listEmployees({ limit: 3, offset: 3 });
      sim.setKnobs({ errorRate: 1 });
      await rejection(personio.listEmployees({ limit: 3, offset: 6 }));

      // Assess
      expect(sent.filter((s) => s.method === 'POST' && s.url.pathname === '/v1/auth')).toHaveLength(2);
      expect(sent.filter((s) => s.url.pathname === '/v1/company/employees' && s.url.searchParams.get('offset') === '6')).toHaveLength(2);
      expect(sent.some((s) => s.url.pathname === `/v1/company/employees/${firstId}`)).toBe(true);
      expect(sent.some((s) => s.url.pathname === '/v1/company/employees/attributes')).toBe(true);
      expect(sent.length).toBe(sim.stats().requests);
      for (const request of sent) expect(request.appId, `${request.method} ${request.url.pathname}`).toBe(APP_ID);
    });

    it('never asks for more than 100 employees per page, even when asked for 500', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = client({ fetch: recordingFetch(sent) });

      // Act
      const page = await personio.listEmployees({ limit: 500, offset: 0 });

      // Assess
      expect(page.data).toHaveLength(100);
      expect(sim.stats().maxLimitRequested).toBe(100);
      expect(sent.filter((s) => s.method === 'GET').map((s) => s.url.searchParams.get('limit'))).toEqual(['100']);
    });
  });

  describe('personioUrl', () => {
    describe.each([
      ['https://api.personio.de', '/v1/auth', 'https://api.personio.de/v1/auth'],
      ['https://api.personio.de/', '/v1/auth', 'https://api.personio.de/v1/auth'],
      ['https://api.personio.de//', '/v1/auth', 'https://api.personio.de/v1/auth'],
      ['https://api.personio.de/v1', '/v1/auth', 'https://api.personio.de/v1/auth'],
      ['https://api.personio.de/v1/', '/v1/company/employees?limit=100&offset=0', 'https://api.personio.de/v1/company/employees?limit=100&offset=0'],
      ['https://proxy.example/personio', '/v1/company/employees/attributes', 'https://proxy.example/personio/v1/company/employees/attributes'],
      ['https://proxy.example/personio/v1/', '/v1/company/employees/7', 'https://proxy.example/personio/v1/company/employees/7'],
      ['http://127.0.0.1:4010', '/v1/auth', 'http://127.0.0.1:4010/v1/auth'],
    ])('base %s + %s', (base, path, expected) => {
      it(`is ${expected}`, () => {
        // Act
        const url = personioUrl(base, path);

        // Assess
        expect(url).toBe(expected);
      });
    });

    describe.each(['', '/', '/v1', '/v1/'])('a client configured with the simulator URL + "%s"', (suffix) => {
      it('reaches /v1/auth and /v1/company/employees', async () => {
        // Prepare
        const sent: Sent[] = [];
        const personio = client({ baseUrl: sim.url + suffix, fetch: recordingFetch(sent) });

        // Act
        const page = await personio.listEmployees({ limit: 2, offset: 0 });

        // Assess
        expect(page.data).toHaveLength(2);
        expect(sent.map((s) => s.url.pathname)).toEqual(['/v1/auth', '/v1/company/employees']);
      });
    });
  });

  describe('rate limiting (429)', () => {
    it('retries a 429 without Retry-After after at least 1 s, and every call succeeds', async () => {
      // Prepare: Personio allows 2/s here, our limiter would allow 100/s
      sim.setKnobs({ employeesPerSecond: 2 });
      const sent: Sent[] = [];
      const personio = client({ fetch: recordingFetch(sent), limiter: new RateLimiter({ windows: [{ limit: 100, ms: 1_000 }] }) });
      await personio.authenticate();
      const started = Date.now();

      // Act
      const pages = await Promise.all([0, 10, 20, 30].map((offset) => personio.listEmployees({ limit: 10, offset })));
      const elapsed = Date.now() - started;

      // Assess
      expect(pages.map((p) => p.data.length)).toEqual([10, 10, 10, 10]);
      expect(personio.stats.rateLimited).toBeGreaterThan(0);
      expect(sim.stats().rateLimited).toBe(personio.stats.rateLimited);
      expect(elapsed).toBeGreaterThanOrEqual(1_000 - TIMER_SLACK_MS);
      const limited = sent.filter((s) => s.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      for (const answer of limited) {
        const retry = sent.find((s) => s.url.href === answer.url.href && s.at >= (answer.answeredAt ?? Number.POSITIVE_INFINITY));
        expect(retry, `a retry of ${answer.url.search}`).toBeDefined();
        expect((retry?.at ?? 0) - (answer.answeredAt ?? 0)).toBeGreaterThanOrEqual(1_000 - TIMER_SLACK_MS);
      }
    });

    it('honours Retry-After', async () => {
      // Prepare
      sim.setKnobs({ employeesPerSecond: 1, retryAfterSeconds: 2 });
      const sent: Sent[] = [];
      const personio = client({ fetch: recordingFetch(sent), limiter: new RateLimiter({ windows: [{ limit: 100, ms: 1_000 }] }) });
      await personio.authenticate();
      const started = Date.now();

      // Act
      const pages = await Promise.all([0, 10].map((offset) => personio.listEmployees({ limit: 10, offset })));
      const elapsed = Date.now() - started;

      // Assess
      expect(pages.map((p) => p.data.length)).toEqual([10, 10]);
      expect(elapsed).toBeGreaterThanOrEqual(2_000 - TIMER_SLACK_MS);
      const limited = sent.filter((s) => s.status === 429);
      expect(limited).toHaveLength(1);
      const answer = limited[0]!;
      const retry = sent.find((s) => s.url.href === answer.url.href && s.at >= (answer.answeredAt ?? Number.POSITIVE_INFINITY));
      expect((retry?.at ?? 0) - (answer.answeredAt ?? 0)).toBeGreaterThanOrEqual(2_000 - TIMER_SLACK_MS);
    });
  });

  describe('server errors (5xx)', () => {
    it('gives up with unavailable and the status after the retry limit', async () => {
      // Prepare
      sim.setKnobs({ errorRate: 1 });
      const personio = client({ retryLimit: 1 });
      await personio.authenticate();
      const started = Date.now();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('unavailable');
      expect(error.status).toBeGreaterThanOrEqual(500);
      expect(error.retryable).toBe(true);
      expect(sim.stats().employeeListRequests).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000 - TIMER_SLACK_MS);
    });

    it('delivers all 500 employees exactly once through the pager when 30 % of requests fail', async () => {
      // Prepare
      const flaky = await startPersonioSim({ employees: 500, seed: 3, errorRate: 0.3, credentials: [CREDENTIALS] });
      try {
        const personio = client({ baseUrl: flaky.url });
        const delivered: number[] = [];

        // Act
        const summary = await pageEmployees(personio, { attributes: ['email'] }, async (employees) => {
          for (const employee of employees) delivered.push(Number(employee['id']?.value));
        });

        // Assess
        const expected = flaky.employees().map((e) => e.id);
        expect(delivered).toHaveLength(500);
        expect(new Set(delivered).size).toBe(500);
        expect([...delivered].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
        expect(summary.employees).toBe(500);
        const faults = Object.entries(flaky.stats().byStatus).filter(([status]) => Number(status) >= 500);
        expect(faults.length).toBeGreaterThan(0);
      } finally {
        await flaky.close();
      }
    });
  });

  describe('malformed responses', () => {
    it('fails with bad_response after a bounded number of attempts', async () => {
      // Prepare
      sim.setKnobs({ malformedRate: 1 });
      const personio = client();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('bad_response');
      expect(error.retryable).toBe(false);
      expect(sim.stats().employeeListRequests).toBeGreaterThanOrEqual(2);
      expect(sim.stats().employeeListRequests).toBeLessThanOrEqual(3);
    });
  });

  describe('timeouts and the deadline', () => {
    it('times out an attempt that takes longer than timeoutMs (no retry)', async () => {
      // Prepare
      const personio = client({ timeoutMs: 100, retryLimit: 0, limiter: ownLimiter() });
      await personio.authenticate();
      sim.setKnobs({ latencyMs: 600, latencyJitter: false });
      const started = Date.now();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('timeout');
      expect(error.retryable).toBe(true);
      expect(Date.now() - started).toBeLessThan(500);
      expect(sim.stats().employeeListRequests).toBe(1);
    });

    it('retries a timed-out attempt once after at least 1 s, then gives up with timeout', async () => {
      // Prepare
      const personio = client({ timeoutMs: 100, retryLimit: 1, limiter: ownLimiter() });
      await personio.authenticate();
      sim.setKnobs({ latencyMs: 600, latencyJitter: false });
      const started = Date.now();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('timeout');
      expect(sim.stats().employeeListRequests).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_200 - TIMER_SLACK_MS);
    });

    it('sends nothing once the deadline has passed', async () => {
      // Prepare
      const personio = client({ deadline: Date.now() - 1 });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('timeout');
      expect(sim.stats().requests).toBe(0);
    });

    it('stops at a close deadline with timeout, fast, and no request starts after it', async () => {
      // Prepare: the token is already cached; Personio now takes 2 s per answer
      await client().authenticate();
      sim.setKnobs({ latencyMs: 2_000, latencyJitter: false });
      sim.resetStats();
      const sent: Sent[] = [];
      const deadline = Date.now() + 300;
      const personio = client({ deadline, fetch: recordingFetch(sent), limiter: ownLimiter() });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));
      const finished = Date.now();

      // Assess
      expect(error.code).toBe('timeout');
      expect(finished - deadline).toBeLessThan(300);
      expect(sent.length).toBeGreaterThan(0);
      for (const request of sent) expect(request.at).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(sim.stats().requests).toBe(sent.length);
    });

    it('does not start a retry whose back-off would overrun the deadline', async () => {
      // Prepare
      await client().authenticate();
      sim.setKnobs({ errorRate: 1 });
      sim.resetStats();
      const deadline = Date.now() + 1_500;
      const personio = client({ deadline, limiter: ownLimiter() });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('unavailable');
      expect(Date.now()).toBeLessThan(deadline);
      expect(sim.stats().employeeListRequests).toBe(1);
    });
  });

  describe('our own pacing', () => {
    it('causes no 429 on a quiet simulator: 1,000 employees paged twice in a row with a fresh default limiter', async () => {
      // Prepare: a fresh simulator, so the client's shared default limiter for it is fresh too
      const quiet = await startPersonioSim({ employees: 1_000, seed: 5, credentials: [CREDENTIALS] });
      try {
        const personio = client({ baseUrl: quiet.url });
        const counts: number[] = [];

        // Act
        for (let run = 0; run < 2; run++) {
          let count = 0;
          const summary = await pageEmployees(personio, { pageSize: 100 }, async (employees) => {
            count += employees.length;
          });
          // Page 0, then 10 pages that overlap their neighbour by one employee.
          expect(summary.pages).toBe(11);
          counts.push(count);
        }

        // Assess
        expect(counts).toEqual([1_000, 1_000]);
        expect(quiet.stats().employeeListRequests).toBe(22);
        expect(quiet.stats().rateLimited).toBe(0);
        expect(personio.stats.rateLimited).toBe(0);
      } finally {
        await quiet.close();
      }
    });
  });
});
