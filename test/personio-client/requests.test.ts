import { describe, expect, it } from 'vitest';
import { personioUrl } from '../../lib/personio/client.js';
import { pageEmployees } from '../../lib/personio/pager.js';
import { RateLimiter } from '../../lib/personio/rate-limiter.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';
import { useSimulator, CREDENTIALS, APP_ID, type Sent, recordingFetch, rejection, TIMER_SLACK_MS } from './support.js';

/**
 * The Personio client over real HTTP against the simulator. Waits of a second and more are the client's real
 * back-off (Personio asks for ≥ 1 s between retries), so they are budgeted rather than faked.
 */

describe(`PersonioClient against the Personio simulator: what every request carries, its URL, and 429, 5xx and malformed answers`, () => {
  const simulator = useSimulator();

  describe('what every request carries', () => {
    it('sends X-Personio-App-ID on every call: auth, list, by id, attributes, re-auth and retries', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = simulator.client({ fetch: recordingFetch(sent), retryLimit: 1 });

      // Act
      await personio.authenticate();
      const page = await personio.listEmployees({ limit: 3, offset: 0 });
      const firstId = Number(page.data[0]?.attributes['id']?.value);
      await personio.getEmployee(firstId);
      await personio.listAttributes();
      simulator.sim.revokeTokens();
      await personio.listEmployees({ limit: 3, offset: 3 });
      simulator.sim.setKnobs({ errorRate: 1 });
      await rejection(personio.listEmployees({ limit: 3, offset: 6 }));

      // Assess
      expect(sent.filter((s) => s.method === 'POST' && s.url.pathname === '/v1/auth')).toHaveLength(2);
      expect(sent.filter((s) => s.url.pathname === '/v1/company/employees' && s.url.searchParams.get('offset') === '6')).toHaveLength(2);
      expect(sent.some((s) => s.url.pathname === `/v1/company/employees/${firstId}`)).toBe(true);
      expect(sent.some((s) => s.url.pathname === '/v1/company/employees/attributes')).toBe(true);
      expect(sent.length).toBe(simulator.sim.stats().requests);
      for (const request of sent) expect(request.appId, `${request.method} ${request.url.pathname}`).toBe(APP_ID);
    });

    it('never asks for more than 100 employees per page, even when asked for 500', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = simulator.client({ fetch: recordingFetch(sent) });

      // Act
      const page = await personio.listEmployees({ limit: 500, offset: 0 });

      // Assess
      expect(page.data).toHaveLength(100);
      expect(simulator.sim.stats().maxLimitRequested).toBe(100);
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
        const personio = simulator.client({ baseUrl: simulator.sim.url + suffix, fetch: recordingFetch(sent) });

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
      simulator.sim.setKnobs({ employeesPerSecond: 2 });
      const sent: Sent[] = [];
      const personio = simulator.client({ fetch: recordingFetch(sent), limiter: new RateLimiter({ windows: [{ limit: 100, ms: 1_000 }] }) });
      await personio.authenticate();
      const started = Date.now();

      // Act
      const pages = await Promise.all([0, 10, 20, 30].map((offset) => personio.listEmployees({ limit: 10, offset })));
      const elapsed = Date.now() - started;

      // Assess
      expect(pages.map((p) => p.data.length)).toEqual([10, 10, 10, 10]);
      expect(personio.stats.rateLimited).toBeGreaterThan(0);
      expect(simulator.sim.stats().rateLimited).toBe(personio.stats.rateLimited);
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
      simulator.sim.setKnobs({ employeesPerSecond: 1, retryAfterSeconds: 2 });
      const sent: Sent[] = [];
      const personio = simulator.client({ fetch: recordingFetch(sent), limiter: new RateLimiter({ windows: [{ limit: 100, ms: 1_000 }] }) });
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
      simulator.sim.setKnobs({ errorRate: 1 });
      const personio = simulator.client({ retryLimit: 1 });
      await personio.authenticate();
      const started = Date.now();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('unavailable');
      expect(error.status).toBeGreaterThanOrEqual(500);
      expect(error.retryable).toBe(true);
      expect(simulator.sim.stats().employeeListRequests).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000 - TIMER_SLACK_MS);
    });

    it('delivers all 500 employees exactly once through the pager when 30 % of requests fail', async () => {
      // Prepare
      const flaky = await startPersonioSim({ employees: 500, seed: 3, errorRate: 0.3, credentials: [CREDENTIALS] });
      try {
        const personio = simulator.client({ baseUrl: flaky.url });
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
      simulator.sim.setKnobs({ malformedRate: 1 });
      const personio = simulator.client();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('bad_response');
      expect(error.retryable).toBe(false);
      expect(simulator.sim.stats().employeeListRequests).toBeGreaterThanOrEqual(2);
      expect(simulator.sim.stats().employeeListRequests).toBeLessThanOrEqual(3);
    });
  });
});
