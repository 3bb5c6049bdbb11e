import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { CREDENTIAL, UNLIMITED, call, authenticate, get, personioError } from './support.js';

/** The simulator's rate limits, injected faults and latency, and its statistics. */

describe('rate limits', () => {
  let sim: PersonioSim | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('allows 15 employee requests per second per credential, not per token or IP', async () => {
    // Prepare
    const started = await startPersonioSim({
      employees: 20,
      credentials: [
        { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' },
        { clientId: 'second', clientSecret: 'second-secret' },
      ],
    });
    sim = started;
    const first = await authenticate(started);
    const second = await authenticate(started, { client_id: 'second', client_secret: 'second-secret' });

    // Act
    const burst = await Promise.all(Array.from({ length: 20 }, () => get(started, '/v1/company/employees?limit=1', first)));
    const other = await get(started, '/v1/company/employees?limit=1', second);
    started.revokeTokens();
    const renewed = await get(started, '/v1/company/employees?limit=1', await authenticate(started));

    // Assess
    const statuses = burst.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(15);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    const refused = burst.find((a) => a.status === 429);
    expect(refused?.body).toEqual(personioError(429, 'Too Many Requests'));
    expect(refused?.headers.get('retry-after')).toBeNull();
    expect(other.status).toBe(200);
    // A new token for the same credential buys no new budget.
    expect(renewed.status).toBe(429);
    expect(started.stats()).toMatchObject({ rateLimited: 6, byStatus: { '200': 19, '429': 6 } });
  });

  it('limits employee requests per minute, and a 429 costs no budget', async () => {
    // Prepare
    const started = await startPersonioSim({ employees: 5, employeesPerMinute: 3 });
    sim = started;
    const token = await authenticate(started);

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await get(started, '/v1/company/employees', token)).status);
    started.setKnobs({ employeesPerMinute: 4 });
    const afterRaise = await get(started, '/v1/company/employees', token);

    // Assess
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(afterRaise.status).toBe(200);
  });

  it('enters an auth cool-down after authPerMinute calls', async () => {
    // Prepare
    const started = await startPersonioSim({ employees: 5, authPerMinute: 3 });
    sim = started;
    const post = () => call(`${started.url}/v1/auth`, { method: 'POST', body: JSON.stringify(CREDENTIAL) });

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await post()).status);
    started.setKnobs({ authPerMinute: 100 });
    const duringCooldown = await post();

    // Assess
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // The window has room again, but the cool-down still refuses.
    expect(duringCooldown.status).toBe(429);
    expect(duringCooldown.body).toEqual(personioError(429, 'Too Many Requests'));
    expect(started.stats()).toMatchObject({ authCalls: 6, rateLimited: 3 });
  });

  it('sends Retry-After when the knob is set, and limits all traffic per IP', async () => {
    // Prepare
    const started = await startPersonioSim({ employees: 5, ipPerMinute: 2, retryAfterSeconds: 7 });
    sim = started;
    const token = await authenticate(started);

    // Act
    const ok = await get(started, '/v1/company/employees', token);
    const refused = await get(started, '/v1/company/employees/attributes', token);
    const authRefused = await call(`${started.url}/v1/auth`, { method: 'POST', body: JSON.stringify(CREDENTIAL) });

    // Assess
    expect(ok.status).toBe(200);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(authRefused.status).toBe(429);
  });
});

describe('faults and latency', () => {
  let sim: PersonioSim;
  let token: string;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 30, seed: 3, ...UNLIMITED });
    token = await authenticate(sim);
  });
  afterAll(() => sim.close());
  afterEach(() => sim.setKnobs({ errorRate: 0, malformedRate: 0, latencyMs: 0 }));

  it('answers personnel-data GETs with Personio 500s, HTML 502s and other 503s at errorRate 1', async () => {
    // Prepare
    sim.setKnobs({ errorRate: 1 });

    // Act
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => get(sim, i % 2 === 0 ? '/v1/company/employees' : '/v1/company/employees/attributes', token)),
    );

    // Assess
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([500, 502, 503]));
    expect(answers.find((a) => a.status === 500)?.body).toEqual(personioError(500, 'Something went wrong'));
    const gateway = answers.find((a) => a.status === 502);
    expect(gateway?.headers.get('content-type')).toBe('text/html');
    expect(gateway?.text).toContain('502 Bad Gateway');
    expect(answers.find((a) => a.status === 503)?.body).toEqual({ message: 'Service Unavailable' });
  });

  it('answers employee pages with truncated JSON at malformedRate 1', async () => {
    // Prepare
    sim.setKnobs({ malformedRate: 1 });

    // Act
    const answer = await get(sim, '/v1/company/employees?limit=10', token);

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.text.startsWith('{"success":true')).toBe(true);
    expect(() => JSON.parse(answer.text)).toThrow();
  });

  it('delays answers by latencyMs and tracks concurrency', async () => {
    // Prepare
    sim.setKnobs({ latencyMs: 150, latencyJitter: false });
    sim.resetStats();
    const started = performance.now();

    // Act
    const answers = await Promise.all(Array.from({ length: 4 }, () => get(sim, '/v1/company/employees?limit=1', token)));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    expect(sim.stats().maxConcurrent).toBe(4);
  });
});

describe('statistics', () => {
  it('counts requests, auth calls, list requests, the largest limit and 429s, but not control calls', async () => {
    // Prepare
    const sim = await startPersonioSim({ employees: 10, employeesPerSecond: 2 });
    try {
      const token = await authenticate(sim);
      await authenticate(sim);

      // Act
      await get(sim, '/v1/company/employees?limit=100', token);
      await get(sim, '/v1/company/employees?limit=250', token);
      await get(sim, '/v1/company/employees?limit=7', token);
      await call(`${sim.url}/__sim/stats`);
      const stats = sim.stats();
      sim.resetStats();

      // Assess
      expect(stats).toMatchObject({
        requests: 5,
        authCalls: 2,
        tokensIssued: 1,
        employeeListRequests: 3,
        rateLimited: 1,
        maxLimitRequested: 250,
        byStatus: { '200': 3, '422': 1, '429': 1 },
      });
      expect(stats.cpuMs).toBeGreaterThan(0);
      expect(sim.stats()).toMatchObject({ requests: 0, authCalls: 0, byStatus: {}, maxLimitRequested: 0 });
    } finally {
      await sim.close();
    }
  });
});
