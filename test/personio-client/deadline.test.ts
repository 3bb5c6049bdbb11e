import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../lib/personio/rate-limiter.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { useSimulator, CREDENTIALS, type Sent, recordingFetch, rejection, renderings, ownLimiter, TIMER_SLACK_MS } from './support.js';

/**
 * No wait in the client (the limiter, back-off, Retry-After in seconds or as a date, the auth cool-down, another
 * client's auth) ends past the deadline: where it would, the call fails at once with a code that says why. Over real
 * HTTP against the simulator; the fault proxy adds the answers the simulator cannot give (a 503 with Retry-After).
 * Where a test bounds time, it bounds only the client's own decision after an answer, by the shortest wait it refused.
 */

const LIST = '/v1/company/employees';
const lists = (sent: Sent[]): Sent[] => sent.filter((s) => s.url.pathname === LIST);

/** When Personio's answer to the only list request arrived. */
function answeredAt(sent: Sent[]): number {
  const [only, ...more] = lists(sent);
  expect(more).toEqual([]);
  expect(only?.answeredAt).toBeDefined();
  return only?.answeredAt ?? Number.NaN;
}

describe('PersonioClient against the Personio simulator: no wait passes the deadline', () => {
  const simulator = useSimulator();
  let proxy: FaultProxy | undefined;
  const faults = (): FaultProxy => {
    if (!proxy) throw new Error('the fault proxy has not started');
    return proxy;
  };

  beforeAll(async () => {
    proxy = await startFaultProxy(() => simulator.sim.url);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  beforeEach(() => {
    faults().reset();
  });

  describe('Retry-After', () => {
    it('fails a 503 with Retry-After: 300 at once as unavailable when 3 s are left, and sends no retry', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = simulator.client({ baseUrl: faults().url, deadline: Date.now() + 3_000, fetch: recordingFetch(sent), limiter: ownLimiter() });
      await personio.authenticate();
      faults().script(LIST, { status: 503, headers: { 'Retry-After': '300' } });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));
      const failedAt = Date.now();

      // Assess
      expect(error.code).toBe('unavailable');
      expect(error.status).toBe(503);
      expect(error.message).toContain('Retrying in 300 s would pass the time budget');
      expect(lists(sent).map((s) => s.status)).toEqual([503]);
      expect(faults().arrivals.filter((a) => a.path === LIST)).toHaveLength(1);
      expect(personio.stats.requests).toBe(2);
      expect(failedAt - answeredAt(sent)).toBeLessThan(3_000);
    });

    it('fails a Retry-After HTTP date five minutes ahead at once when 3 s are left', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = simulator.client({ baseUrl: faults().url, deadline: Date.now() + 3_000, fetch: recordingFetch(sent), limiter: ownLimiter() });
      await personio.authenticate();
      faults().script(LIST, { status: 503, headers: { 'Retry-After': new Date(Date.now() + 300_000).toUTCString() } });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));
      const failedAt = Date.now();

      // Assess
      expect(error.code).toBe('unavailable');
      expect(error.message).toMatch(/Retrying in (29\d|300)(\.\d)? s would pass the time budget/);
      expect(lists(sent).map((s) => s.status)).toEqual([503]);
      expect(failedAt - answeredAt(sent)).toBeLessThan(3_000);
    });

    it('waits until a Retry-After HTTP date that fits the budget, then succeeds', async () => {
      // Prepare: whole seconds, so the date is 2 to 3 s ahead; back-off alone would retry within 1.5 s
      const sent: Sent[] = [];
      const personio = simulator.client({ baseUrl: faults().url, deadline: Date.now() + 20_000, fetch: recordingFetch(sent), limiter: ownLimiter() });
      await personio.authenticate();
      const retryAt = new Date(Date.now() + 3_000).toUTCString();
      faults().script(LIST, { status: 503, headers: { 'Retry-After': retryAt } });

      // Act
      const page = await personio.listEmployees({ limit: 10, offset: 0 });

      // Assess
      expect(page.data).toHaveLength(10);
      const [failed, retry] = lists(sent);
      expect(lists(sent).map((s) => s.status)).toEqual([503, 200]);
      expect(failed?.answeredAt).toBeDefined();
      expect(retry?.at).toBeGreaterThanOrEqual(Date.parse(retryAt) - TIMER_SLACK_MS);
    });

    it("fails the simulator's 429 with Retry-After: 300 at once as rate_limited when 3 s are left, and counts it", async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = simulator.client({ deadline: Date.now() + 3_000, fetch: recordingFetch(sent), limiter: ownLimiter() });
      await personio.authenticate();
      simulator.sim.setKnobs({ employeesPerSecond: 0, retryAfterSeconds: 300 });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));
      const failedAt = Date.now();

      // Assess
      expect(error.code).toBe('rate_limited');
      expect(error.status).toBe(429);
      expect(error.message).toContain('Retrying in 300 s would pass the time budget');
      expect(simulator.sim.stats().employeeListRequests).toBe(1);
      expect(simulator.sim.stats().rateLimited).toBe(1);
      expect(personio.stats.rateLimited).toBe(1);
      expect(failedAt - answeredAt(sent)).toBeLessThan(3_000);
    });
  });

  describe('the limiter', () => {
    it("fails with rate_limited and sends nothing when the limiter's next slot comes after the deadline", async () => {
      // Prepare: one request per 20 s, and another client already took this window's
      const limiter = new RateLimiter({ windows: [{ limit: 1, ms: 20_000 }] });
      await simulator.client({ limiter }).listEmployees({ limit: 1, offset: 0 });
      simulator.sim.resetStats();
      const sent: Sent[] = [];
      const personio = simulator.client({ limiter, deadline: Date.now() + 3_000, fetch: recordingFetch(sent) });

      // Act: waiting for the slot would succeed after 20 s; the budget is 3 s
      const error = await rejection(personio.listEmployees({ limit: 1, offset: 1 }));

      // Assess
      expect(error.code).toBe('rate_limited');
      expect(error.message).toMatch(/after the time budget/);
      expect(sent).toEqual([]);
      expect(personio.stats.requests).toBe(0);
      expect(simulator.sim.stats().requests).toBe(0);
    });

    it("waits for the limiter's slot when it comes within the budget", async () => {
      // Prepare
      const limiter = new RateLimiter({ windows: [{ limit: 1, ms: 1_000 }] });
      const sent: Sent[] = [];
      await simulator.client({ limiter, fetch: recordingFetch(sent) }).listEmployees({ limit: 1, offset: 0 });
      const personio = simulator.client({ limiter, deadline: Date.now() + 10_000, fetch: recordingFetch(sent) });

      // Act
      const page = await personio.listEmployees({ limit: 1, offset: 1 });

      // Assess
      expect(page.data).toHaveLength(1);
      const [first, second] = lists(sent);
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1_000 - TIMER_SLACK_MS);
    });

    it("bounds the attempt after the limiter's wait by what is left of the budget, not by what was left before it", async () => {
      // Prepare: the next slot is about 1 s away; then Personio takes 2 s to answer, and the budget ends at 2.5 s
      const limiter = new RateLimiter({ windows: [{ limit: 1, ms: 1_000 }], marginMs: 0 });
      await simulator.client({ limiter }).listEmployees({ limit: 1, offset: 0 });
      simulator.sim.setKnobs({ latencyMs: 2_000, latencyJitter: false });
      const sent: Sent[] = [];
      const personio = simulator.client({ limiter, deadline: Date.now() + 2_500, fetch: recordingFetch(sent) });

      // Act: an attempt allowed the 2.5 s left before the wait would get its answer at about 3 s
      const error = await rejection(personio.listEmployees({ limit: 1, offset: 1 }));

      // Assess
      expect(error.code).toBe('timeout');
      expect(lists(sent)).toHaveLength(1);
      expect(lists(sent)[0]?.status).toBeUndefined();
    });
  });

  describe('authentication', () => {
    it('fails at once with rate_limited when waiting out the auth cool-down would pass the deadline', async () => {
      // Prepare: every auth call is refused, which starts the 60 s cool-down
      simulator.sim.setKnobs({ authPerMinute: 0 });
      const sent: Sent[] = [];
      const personio = simulator.client({ deadline: Date.now() + 3_000, fetch: recordingFetch(sent) });

      // Act
      const error = await rejection(personio.authenticate());
      const failedAt = Date.now();

      // Assess
      expect(error.code).toBe('rate_limited');
      expect(error.status).toBe(429);
      expect(error.message).toMatch(/cool-down would pass the time budget/);
      expect(simulator.sim.stats().authCalls).toBe(1);
      expect(personio.stats.authCalls).toBe(1);
      expect(sent.map((s) => s.status)).toEqual([429]);
      expect(failedAt - (sent[0]?.answeredAt ?? Number.NaN)).toBeLessThan(3_000);
      for (const text of renderings(error)) expect(text).not.toContain(CREDENTIALS.clientSecret);
    });

    it("stops waiting for another client's token when its own budget runs out, with timeout, and sends nothing itself", async () => {
      // Prepare: Personio takes 4 s to answer; a client without a deadline asks for the token first
      simulator.sim.setKnobs({ latencyMs: 4_000, latencyJitter: false });
      const settled: string[] = [];
      const patient = simulator.client().authenticate();
      void patient.then(() => settled.push('patient'));
      const sent: Sent[] = [];
      const hurried = simulator.client({ deadline: Date.now() + 1_500, fetch: recordingFetch(sent) });

      // Act
      const error = await rejection(hurried.listEmployees({ limit: 1, offset: 0 }));
      settled.push('hurried');
      await patient;

      // Assess
      expect(error.code).toBe('timeout');
      expect(error.message).toMatch(/waiting any longer for a token/i);
      expect(settled).toEqual(['hurried', 'patient']);
      expect(sent).toEqual([]);
      expect(simulator.sim.stats().authCalls).toBe(1);
    });
  });
});
