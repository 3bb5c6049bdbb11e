import { expect } from 'vitest';
import { afterFirstPage, type FaultCase } from './harness.js';
import { faultSuite } from './suite.js';

/**
 * Fault suite, Personio side (project issue 7): each fault against the simulator's knobs; the import
 * either completes with exactly Personio's employees in the table or fails with a clear reason and
 * leaves the table as it was.
 */

/** Lambda budgets of the cases whose checks are about keeping to them. */
const SLOW_BUDGET_MS = 18_000;
const COOLDOWN_BUDGET_MS = 40_000;

const cases: FaultCase[] = [
  {
    fault: '429 storm (1 request/s allowed)',
    expect: { outcome: 'completed' },
    baseline: false,
    arrange: ({ sim }) => sim.setKnobs({ employeesPerSecond: 1 }),
    check: (_, r) => expect(r.run.personio429).toBeGreaterThan(0),
  },
  {
    fault: '5xx at 5 % (6 imports in a row)',
    expect: { outcome: 'completed' },
    baseline: false,
    repeat: 6,
    arrange: ({ sim }) => sim.setKnobs({ errorRate: 0.05 }),
    check: (_, r) => expect(r.simulator?.status5xx).toBeGreaterThan(0),
  },
  {
    fault: '5xx at 30 %',
    expect: { outcome: 'completed' },
    baseline: false,
    arrange: ({ sim }) => sim.setKnobs({ errorRate: 0.3 }),
    check: (_, r) => expect(r.simulator?.status5xx).toBeGreaterThan(0),
  },
  {
    fault: '5xx at 100 % (Personio down)',
    expect: { outcome: 'failed', code: /^personio_(unavailable|timeout)$/ },
    // 15 s are kept back to close the run: 5 s of Personio time.
    budgetMs: 20_000,
    arrange: ({ sim }) => sim.setKnobs({ errorRate: 1 }),
  },
  {
    fault: 'every answer slower than the budget',
    expect: { outcome: 'failed', code: /^personio_timeout$/ },
    budgetMs: SLOW_BUDGET_MS,
    arrange: ({ sim }) => sim.setKnobs({ latencyMs: 8_000, latencyJitter: false }),
    check: (_, r) => {
      // No wait outlives the function: the fetch answers, and the run is closed, within the Lambda's budget.
      expect(r.fetchMs).toBeLessThan(SLOW_BUDGET_MS);
      expect(r.report.durationMs).toBeLessThan(SLOW_BUDGET_MS);
    },
  },
  {
    fault: 'pages past the 10 s attempt timeout, then fast',
    expect: { outcome: 'completed' },
    baseline: false,
    during: async (ctx) => {
      // Page 0 answers at once; the pages after it hang 12 s (past the client's 10 s per attempt), retries are fast.
      await afterFirstPage(ctx, () => ctx.sim.setKnobs({ latencyMs: 12_000, latencyJitter: false }));
      await afterFirstPage(ctx, () => ctx.sim.setKnobs({ latencyMs: 0 }), 2);
    },
    check: (_, r) => expect(r.run.personioRequests).toBeGreaterThan(4),
  },
  {
    fault: 'token revoked mid-run',
    expect: { outcome: 'completed' },
    baseline: false,
    arrange: ({ sim }) => sim.setKnobs({ latencyMs: 300, latencyJitter: false }),
    during: (ctx) => afterFirstPage(ctx, () => ctx.sim.revokeTokens()),
    check: (_, r) => {
      // The revoked token is replaced once: the pages that got 403 concurrently share the re-authentication.
      expect(r.simulator?.authCalls).toBe(1);
    },
  },
  {
    fault: 'auth endpoint in cool-down',
    expect: { outcome: 'failed', code: /^personio_(rate_limited|timeout)$/ },
    budgetMs: COOLDOWN_BUDGET_MS,
    arrange: async ({ sim }) => {
      sim.setKnobs({ authPerMinute: 2, authCooldownSeconds: 60 });
      for (let i = 0; i < 3; i++) {
        await fetch(`${sim.url}/v1/auth`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_id: 'sim-client-id', client_secret: 'sim-client-secret' }),
        });
      }
    },
    check: (_, r) => {
      // It gives up rather than hammering an endpoint whose cool-down every call extends.
      expect(r.simulator?.authCalls).toBeLessThanOrEqual(2);
      // A 60 s cool-down does not fit the budget, so it gives up at once instead of sitting out its time.
      expect(r.fetchMs).toBeLessThan(COOLDOWN_BUDGET_MS / 2);
      expect(r.report.durationMs).toBeLessThan(COOLDOWN_BUDGET_MS / 2);
    },
  },
  {
    fault: 'malformed/truncated pages at 25 %',
    expect: { outcome: 'either', code: /^personio_bad_response$/ },
    arrange: ({ sim }) => sim.setKnobs({ malformedRate: 0.25 }),
    // Auth and 3 pages, plus at least one page read again after a truncated answer.
    check: (_, r) => expect(r.simulator?.requests).toBeGreaterThan(4),
  },
  {
    fault: 'every page truncated',
    expect: { outcome: 'failed', code: /^personio_bad_response$/ },
    arrange: ({ sim }) => sim.setKnobs({ malformedRate: 1 }),
  },
];

faultSuite('Fault suite — Personio faults', 'pf', cases);
