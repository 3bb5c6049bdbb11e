import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { PersonioBudget } from '../../lib/personio/budget.js';
import { clearTokenCache } from '../../lib/personio/client.js';
import type { Window } from '../../lib/personio/rate-limiter.js';
import { QueueSender } from '../../lib/queue/sender.js';
import { refreshBatch } from '../../lib/refresh/batch.js';
import type { RefreshDeps } from '../../lib/refresh/refresh-tenant.js';
import { RunStore } from '../../lib/runs/store.js';
import { ConnectionStore } from '../../lib/tenants/connections.js';
import { UserStore } from '../../lib/users/store.js';
import { forEachLimited } from '../../lib/util/concurrency.js';
import { localNames } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { useRunsWorld } from '../runs/support.js';
import { changeBody, deliverChanges, deltaRuns, finalReport, sleep } from './support.js';

describe('the Personio budget shared by full and delta fetches', () => {
  const world = useRunsWorld();
  const env = () => world.env;
  const db = createDocumentClient();

  beforeEach(() => clearTokenCache());

  it('keeps a full run and a delta run of one tenant, started at once, within Personio’s limits together, losing no update', async () => {
    // Prepare: 1,000 employees (10 pages), 20 of them changed; Personio's own limits (15/s, 300/min)
    const personio = await world.personio('budget-race', { employees: 1_000, seed: 3 });
    await personio.connect();
    const changed = personio.sim
      .employees()
      .slice(100, 120)
      .map((e) => e.id);
    for (const id of changed) personio.sim.updateEmployee(id, { position: `Changed ${id}` });
    // Connecting read Personio outside the budget (it checks the credential): out of Personio's 1-second window first.
    await sleep(1_100);
    personio.sim.resetStats();

    // Act: the full run and a delta run for the changed employees, at the same moment
    const [full, delta] = await Promise.all([runImport(env(), 'budget-race'), deliverChanges(changed.map((id) => changeBody('budget-race', id)))]);
    const [deltaRun] = await deltaRuns(env(), 'budget-race');
    const deltaReport = await finalReport(env(), 'budget-race', deltaRun?.runId as string);

    // Assess: no 429 at Personio, both finished, every change landed, nobody deactivated
    expect(personio.sim.stats().rateLimited).toBe(0);
    expect(full).toMatchObject({ status: 'completed', personio429: 0, deactivated: 0, employeesFetched: 1_000 });
    expect(delta.batchItemFailures).toEqual([]);
    expect(deltaReport).toMatchObject({ mode: 'delta', status: 'completed', personio429: 0, employeesFetched: 20, deactivated: 0 });
    const users = await env().users.list('budget-race');
    // Whichever run came first created the changed employees' users; the simulator's data has a few employees without
    // a usable address: reported, not imported.
    expect(users).toHaveLength(full.created + deltaReport.created);
    expect(full.created + full.updated + full.unchanged + full.failed).toBe(1_000);
    for (const id of changed) expect(users.find((u) => u.personioId === id)?.position, `user ${id}`).toBe(`Changed ${id}`);
    expect(users.filter((u) => u.deactivationReason !== undefined)).toEqual([]);
  }, 120_000);

  it('coalesces a burst of 1,000 changes into ten delta runs, without a 429 and with at most 1.2 requests per employee', async () => {
    // Prepare: Personio's windows scaled down ten times in time (15 per 100 ms, 300 per 6 s) on both sides, so the
    // burst takes seconds instead of minutes; the simulator allows 150/s and 3,000/min.
    const personio = await world.personio('budget-burst', { employees: 1_000, seed: 5, employeesPerSecond: 150, employeesPerMinute: 3_000 });
    await personio.connect();
    const windows: Window[] = [
      { limit: 15, ms: 100 },
      { limit: 300, ms: 6_000 },
    ];
    const deps: RefreshDeps = {
      connections: new ConnectionStore(db, localNames.connectionsTable),
      runs: new RunStore(db, localNames.runsTable, { budget: { windows } }),
      users: new UserStore(db, localNames.usersTable),
      credentials: new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix),
      createSender: () => new QueueSender({ sqs: env().sqs, queueUrl: env().queueUrls.importQueueUrl }),
      personio: { baseUrl: world.router.url, appId: 'DADO' },
      now: () => new Date(),
      deactivationThreshold: 0.2,
    };
    const ids = personio.sim.employees().map((e) => e.id);
    const batches = Array.from({ length: 10 }, (_, b) =>
      ids.slice(b * 100, b * 100 + 100).map((id, i) => ({ messageId: `m-${b}-${i}`, body: changeBody('budget-burst', id) })),
    );
    personio.sim.resetStats();

    // Act: ten batches of 100, five at once (the event source mapping's maximum concurrency)
    env().eventSource.start();
    const deadline = Date.now() + 5 * 60_000;
    const failed: string[] = [];
    await forEachLimited(batches, 5, async (batch) => void failed.push(...(await refreshBatch(deps, batch, deadline)).failed));
    const runs = await deltaRuns(env(), 'budget-burst');
    const reports = await Promise.all(runs.map((r) => finalReport(env(), 'budget-burst', r.runId, 120_000)));

    // Assess
    expect(failed).toEqual([]);
    expect(reports).toHaveLength(10);
    for (const report of reports) {
      expect(report).toMatchObject({ mode: 'delta', status: 'completed', employeesFetched: 100, personio429: 0 });
      expect(report.created + report.failed).toBe(100);
    }
    const stats = personio.sim.stats();
    expect(stats.rateLimited).toBe(0);
    expect(stats.requests / 1_000).toBeLessThanOrEqual(1.2);
    expect(await env().users.list('budget-burst')).toHaveLength(reports.reduce((n, r) => n + r.created, 0));
  }, 180_000);

  describe('the lease', () => {
    /** A clock that moves only when someone sleeps: waits are computed, not waited. */
    const fakeClock = () => {
      let t = Date.now();
      const sleep = async (ms: number) => {
        t += ms;
      };
      return { now: () => t, sleep, random: () => 0.5 };
    };

    it('seeds the next holder with the released holder’s requests, so together they stay within the minute', async () => {
      // Prepare: a holder uses the whole minute's 300 requests and releases
      const clock = fakeClock();
      const budget = new PersonioBudget(db, localNames.runsTable, clock);
      const first = await budget.acquire('lease-seed', { holder: 'run-a', waitUntil: clock.now() + 1_000, deadline: clock.now() + 900_000 });
      const firstStart = clock.now();
      for (let i = 0; i < 300; i++) await first.limiter.acquire();
      await first.release();

      // Act: the next holder asks for one more request
      const second = await budget.acquire('lease-seed', { holder: 'run-b', waitUntil: clock.now() + 1_000, deadline: clock.now() + 900_000 });
      await second.limiter.acquire();
      await second.release();

      // Assess: it started only once the first of the 300 had left the minute window (its 100 ms margin included)
      expect(clock.now()).toBeGreaterThanOrEqual(firstStart + 60_100);
    });

    it('takes over a lease whose holder died, waiting out a whole window behind it', async () => {
      // Prepare: a holder takes the lease and is never heard of again
      const clock = fakeClock();
      const budget = new PersonioBudget(db, localNames.runsTable, { ...clock, leaseMs: 30_000 });
      const dead = await budget.acquire('lease-dead', { holder: 'run-dead', waitUntil: clock.now() + 1_000, deadline: clock.now() + 900_000 });
      await dead.limiter.acquire();
      const leaseEnd = clock.now() + 30_000;

      // Act
      const next = await budget.acquire('lease-dead', { holder: 'run-next', waitUntil: clock.now() + 120_000, deadline: clock.now() + 900_000 });
      await next.limiter.acquire();
      await next.release();

      // Assess: the lease was waited for, then a full minute after it (the dead holder may have used it all)
      expect(next.waitedMs).toBeGreaterThanOrEqual(30_000);
      expect(clock.now()).toBeGreaterThanOrEqual(leaseEnd + 60_100);
      await dead.release();
    });

    it('lets a waiting full fetch go before a delta run that asks later, and gives up at the waiter’s limit', async () => {
      // Prepare: a delta run holds the lease
      const budget = new PersonioBudget(db, localNames.runsTable);
      const holder = await budget.acquire('lease-queue', { holder: 'delta-1', waitUntil: Date.now() + 1_000, deadline: Date.now() + 60_000 });

      // Act: a full fetch starts waiting; the holder releases; another delta run tries with a short limit
      const full = budget.acquire('lease-queue', { holder: 'full-1', waitUntil: Date.now() + 10_000, deadline: Date.now() + 60_000, priority: true });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await holder.release();
      const late = budget.acquire('lease-queue', { holder: 'delta-2', waitUntil: Date.now() + 1_500, deadline: Date.now() + 60_000 });

      // Assess: the full fetch got it; the later delta run gave up (`budget_busy`, its changes come back through SQS)
      const fullLease = await full;
      await expect(late).rejects.toMatchObject({ code: 'budget_busy' });
      await fullLease.release();
    });
  });
});
