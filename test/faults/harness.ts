import { expect } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import { isFinalRunStatus, type Run, type RunReport } from '../../lib/runs/run.js';
import type { UserRecord } from '../../lib/users/user.js';
import { defaultKnobs, type PersonioSim } from '../../local/personio-sim/index.js';
import type { LocalEnvironment } from '../../local/runner/environment.js';
import { SqsEventSource, type SqsHandler } from '../../local/runner/event-source.js';
import { httpEvent, lambdaContext, scheduledEvent } from '../../local/runner/events.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { expectedUser } from '../helpers/expected-user.js';

/**
 * The fault suite's machinery: one case = a fresh tenant on a shared local environment, an optional
 * baseline import, the fault, one import driven by the real fetch handler and an SQS event source
 * whose worker a case may wrap, and a comparison of the users table with the simulator's employees.
 */

export type Expectation =
  | { outcome: 'completed' }
  | { outcome: 'failed'; code: RegExp }
  /**
   * Failed after some messages were sent (the fetch hands pages on as they arrive and never holds a tenant in memory):
   * the users those messages reached carry Personio's current data, every other user is as the baseline left them,
   * nobody is lost or deactivated, and the next import completes.
   */
  | { outcome: 'failed'; code: RegExp; partial: true }
  /** Seeded faults whose outcome is either: completing, or failing with one of these codes. */
  | { outcome: 'either'; code: RegExp };

export interface FaultContext {
  env: LocalEnvironment;
  sim: PersonioSim;
  tenantId: string;
  /** The table after the baseline import (sorted by personioId), when the case has one. */
  baseline: UserRecord[] | undefined;
  /** Employees removed from Personio while the run paged: a run may legitimately have seen them. */
  removedMidRun: Set<number>;
  /** Set once the run is final: `during` hooks stop then. */
  readonly done: boolean;
  runId: string | undefined;
}

export interface FaultCase {
  fault: string;
  expect: Expectation;
  /** Imports the tenant once, fault-free, before the fault (default true). */
  baseline?: boolean;
  /** The fetch Lambda's budget (default 5 min). */
  budgetMs?: number;
  /** Runs before the baseline import (a larger tenant, say). */
  prepare?: (ctx: FaultContext) => Promise<void> | void;
  /** Applies the fault (after the baseline, before the import). */
  arrange?: (ctx: FaultContext) => Promise<void> | void;
  /** Runs alongside the import (started with the fetch). */
  during?: (ctx: FaultContext) => Promise<void>;
  /** Wraps the real worker for this case's import. */
  worker?: (real: SqsHandler, ctx: FaultContext) => SqsHandler;
  /** An extra condition before the run counts as settled (checked once the run is final and the queue drained). */
  settled?: (ctx: FaultContext) => Promise<boolean>;
  /** Imports under the fault this many times in a row (default 1); the last run is measured. */
  repeat?: number;
  /** Undoes the fault; also runs when the case fails. */
  restore?: (ctx: FaultContext) => Promise<void> | void;
  /** Case-specific assertions. */
  check?: (ctx: FaultContext, result: FaultResult) => Promise<void> | void;
  /** A defect this case exposes: the case is expected to fail its assertions until it is fixed. */
  knownBug?: string;
}

export interface FaultResult {
  fault: string;
  outcome: string;
  usersLost: number;
  duplicates: number;
  /** Completed runs: active users Personio does not have. Failed runs: whether the table changed. */
  extra: number;
  tableChanged: boolean;
  /** Failed runs: users whose record differs from the baseline. */
  changedUsers: number;
  run: Run;
  /** The measured run's report, as the connect API answers it (GET …/imports/{runId}). */
  report: RunReport;
  users: UserRecord[];
  /** Wall time of the measured import alone (its fetch invocation until the run settled), in seconds. */
  seconds: number;
  /** Wall time of the measured import's fetch handler, from its invocation to its answer, in ms. */
  fetchMs: number;
  note: string;
  /** What the simulator saw during the faulty import. */
  simulator?: { requests: number; status5xx: number; status429: number; authCalls: number };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FaultHarness {
  readonly results: FaultResult[] = [];
  private readonly source: SqsEventSource;
  private current: SqsHandler;
  private seq = 0;

  constructor(
    readonly env: LocalEnvironment,
    private readonly prefix: string,
  ) {
    this.current = env.handlers.worker;
    // One poller for the whole file; each case chooses the worker it delegates to.
    this.source = new SqsEventSource({
      sqs: env.sqs,
      queueUrl: env.queueUrls.importQueueUrl,
      handler: (event, context) => this.current(event, context),
      concurrency: 2,
    });
  }

  get sim(): PersonioSim {
    return this.env.sim!;
  }

  async stop(): Promise<void> {
    await this.source.stop();
  }

  /** Knobs, rate windows and the token cache as at start: every case starts from a quiet Personio. */
  reset(): void {
    clearTokenCache();
    this.sim.setKnobs({ ...defaultKnobs });
    this.sim.resetRateLimits();
    this.env.stack.secretsManager.setUnavailable(false);
    this.current = this.env.handlers.worker;
  }

  async run(c: FaultCase): Promise<FaultResult> {
    const env = this.env;
    const tenantId = `${this.prefix}-${String(++this.seq).padStart(2, '0')}`;
    this.reset();
    await connectThroughApi(env, tenantId, env.personio);
    let done = false;
    const ctx: FaultContext = {
      env,
      sim: this.sim,
      tenantId,
      baseline: undefined,
      removedMidRun: new Set(),
      get done() {
        return done;
      },
      runId: undefined,
    };
    try {
      await c.prepare?.(ctx);
      if (c.baseline ?? true) {
        const base = await this.drive(tenantId, 300_000);
        expect(base.run.status, `baseline import of ${tenantId}`).toBe('completed');
        ctx.baseline = sortUsers(await env.users.list(tenantId));
        clearTokenCache();
        this.sim.resetRateLimits();
      }
      await c.arrange?.(ctx);
      const simBefore = this.sim.stats();
      if (c.worker) this.current = c.worker(env.handlers.worker, ctx);
      const during = c.during?.(ctx);
      let outcome: Awaited<ReturnType<FaultHarness['drive']>>;
      // Only the measured import is timed: connecting, the baseline and the fault's set-up are not the case's time.
      let measuredFrom = Date.now();
      try {
        outcome = await this.drive(tenantId, c.budgetMs ?? 300_000, c.settled && (() => c.settled!(ctx)), (runId) => (ctx.runId = runId));
        // Rare faults need more requests than one import of a small tenant makes: import again, as the schedule would.
        for (let i = 1; i < (c.repeat ?? 1) && outcome.run.status !== 'failed'; i++) {
          measuredFrom = Date.now();
          outcome = await this.drive(tenantId, c.budgetMs ?? 300_000);
        }
      } finally {
        done = true;
        await during;
      }
      const seconds = (Date.now() - measuredFrom) / 1000;
      this.current = env.handlers.worker;
      const result = await this.measure(c, ctx, outcome.run, seconds, outcome.fetchMs);
      const simAfter = this.sim.stats();
      const byStatus = (pred: (status: number) => boolean, st = simAfter) =>
        Object.entries(st.byStatus).reduce((n, [k, v]) => n + (pred(Number(k)) ? v : 0), 0);
      const delta = (pred: (status: number) => boolean) => byStatus(pred) - byStatus(pred, simBefore);
      result.simulator = {
        requests: simAfter.requests - simBefore.requests,
        status5xx: delta((s) => s >= 500),
        status429: delta((s) => s === 429),
        authCalls: simAfter.authCalls - simBefore.authCalls,
      };
      // Recorded before the assertions, so the table shows the cases that fail too.
      this.results.push(result);
      FaultHarness.assert(c, result, ctx);
      if ('partial' in c.expect) this.assertPartial(result, ctx);
      await c.check?.(ctx, result);
      if ('partial' in c.expect) {
        // Personio back (knobs as at start), the next import (the schedule's) brings the rest.
        this.reset();
        const retry = await this.drive(tenantId, 300_000);
        const again = await this.measure({ ...c, expect: { outcome: 'completed' } }, ctx, retry.run, 0, retry.fetchMs);
        FaultHarness.assert({ ...c, expect: { outcome: 'completed' } }, again, ctx);
        result.note += `; next import ${again.run.status}, ${again.usersLost} lost`;
      }
      return result;
    } finally {
      done = true;
      this.current = env.handlers.worker;
      await c.restore?.(ctx);
      this.reset();
    }
  }

  /** One import: the fetch handler with the given budget while the event source feeds the worker; waits until final and drained. */
  private async drive(
    tenantId: string,
    budgetMs: number,
    settled?: () => Promise<boolean>,
    onRunId?: (runId: string) => void,
  ): Promise<{ run: Run; fetchMs: number }> {
    this.source.start();
    const invoked = Date.now();
    const outcome = await this.env.handlers.fetch(scheduledEvent(tenantId), lambdaContext('personio-fetch', budgetMs));
    const fetchMs = Date.now() - invoked;
    if (outcome.status !== 'fetched' && outcome.status !== 'failed') throw new Error(`fetch of ${tenantId} answered ${outcome.status}`);
    onRunId?.(outcome.runId);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const run = await this.env.runs.get(tenantId, outcome.runId);
      const depth = await this.source.depth();
      if (run && isFinalRunStatus(run.status) && depth === 0 && (!settled || (await settled()))) return { run, fetchMs };
      if (this.source.failure) throw new Error(`SQS polling failed: ${String(this.source.failure)}`);
      if (Date.now() > deadline) throw new Error(`run ${outcome.runId} of ${tenantId} did not settle: status ${run?.status}, ${depth} message(s) queued`);
      await sleep(150);
    }
  }

  /** Records a case that could not be measured (it threw before the run settled). */
  recordError(c: FaultCase, error: unknown): void {
    if (this.results.some((r) => r.fault === c.fault)) return;
    this.results.push({
      fault: c.fault,
      outcome: 'ERROR',
      usersLost: Number.NaN,
      duplicates: Number.NaN,
      extra: Number.NaN,
      tableChanged: false,
      changedUsers: 0,
      run: undefined as never,
      report: undefined as never,
      users: [],
      seconds: 0,
      fetchMs: Number.NaN,
      note: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 100),
    });
  }

  private async measure(c: FaultCase, ctx: FaultContext, run: Run, seconds: number, fetchMs: number): Promise<FaultResult> {
    const users = sortUsers(await this.env.users.list(ctx.tenantId));
    const report = await this.report(ctx.tenantId, run.runId);
    const perPersonioId = new Map<number, number>();
    for (const u of users) perPersonioId.set(u.personioId, (perPersonioId.get(u.personioId) ?? 0) + 1);
    const perEmail = new Map<string, number>();
    for (const u of users) if (u.email) perEmail.set(u.email.toLowerCase(), (perEmail.get(u.email.toLowerCase()) ?? 0) + 1);
    const duplicates = [...perPersonioId.values(), ...perEmail.values()].reduce((n, k) => n + (k - 1), 0);

    let usersLost: number;
    let extra = 0;
    let note = '';
    const tableChanged = ctx.baseline !== undefined && !deepEqual(users, ctx.baseline);
    const before = new Map((ctx.baseline ?? []).map((u) => [u.userId, u]));
    const changedUsers = users.filter((u) => !deepEqual(u, before.get(u.userId))).length;
    if (run.status === 'failed') {
      // Failed: every user of the baseline is still there, unchanged.
      const now = new Set(users.map((u) => u.personioId));
      usersLost = (ctx.baseline ?? []).filter((u) => !now.has(u.personioId)).length;
      // Users a failed run deactivated count as lost too.
      usersLost += (ctx.baseline ?? []).filter((b) => b.active && users.find((u) => u.personioId === b.personioId)?.active === false).length;
      note = `${run.failure?.code ?? '?'}${tableChanged ? `; ${changedUsers} user(s) already updated` : ''}`;
    } else {
      // Completed: the active import users are exactly Personio's employees with a usable email.
      const expected = new Set(
        this.sim
          .employees()
          .filter((e) => expectedUser(e)['email'] !== null)
          .map((e) => e.id)
          .filter((id) => !ctx.removedMidRun.has(id)),
      );
      const present = new Set(
        users
          .filter((u) => u.deactivationReason !== 'not_in_personio')
          .map((u) => u.personioId)
          .filter((id) => !ctx.removedMidRun.has(id)),
      );
      usersLost = [...expected].filter((id) => !present.has(id)).length;
      extra = [...present].filter((id) => !expected.has(id)).length;
      if (usersLost > 0)
        note = `missing ${[...expected]
          .filter((id) => !present.has(id))
          .slice(0, 8)
          .join(', ')} (run deactivated ${run.deactivated})`;
      if (run.status === 'held') note = `held: ${run.findings.map((f) => f.code).join(', ')}`;
    }
    return {
      fault: c.fault,
      outcome: run.status === 'failed' ? `failed (${run.failure?.code ?? '?'})` : run.status,
      usersLost,
      duplicates,
      extra,
      tableChanged,
      changedUsers,
      run,
      report,
      users,
      seconds,
      fetchMs,
      note,
    };
  }

  /** A run's report as Dado's settings page reads it. */
  private async report(tenantId: string, runId: string): Promise<RunReport> {
    const response = await this.env.handlers.connect(httpEvent('GET', `/tenants/${tenantId}/personio/imports/${runId}`));
    expect(response.statusCode, `report of run ${runId}: ${response.body}`).toBe(200);
    return JSON.parse(response.body ?? '{}') as RunReport;
  }

  /** A failed run that had sent messages: what it wrote is Personio's current data, and nothing else moved. */
  private assertPartial(result: FaultResult, ctx: FaultContext): void {
    const baseline = new Map((ctx.baseline ?? []).map((u) => [u.userId, u]));
    const personio = new Map(this.sim.employees().map((e) => [e.id, expectedUser(e)]));
    expect(result.changedUsers, 'the fault struck before any message was sent: the case proves nothing').toBeGreaterThan(0);
    for (const user of result.users) {
      const was = baseline.get(user.userId);
      expect(was, `user ${user.personioId} appeared in a failed run`).toBeDefined();
      if (deepEqual(user, was)) continue;
      // Every field the import owns, as Personio has it now (an employee Personio no longer has cannot match).
      expect(user, `user ${user.personioId} changed by a failed run`).toMatchObject(personio.get(user.personioId) ?? { personioId: Number.NaN });
    }
  }

  /** The case's standard assertions. */
  static assert(c: FaultCase, result: FaultResult, ctx: Pick<FaultContext, 'baseline'>): void {
    const failure = result.run.failure;
    if (c.expect.outcome === 'completed') {
      expect(result.run.status, `${c.fault}: ${JSON.stringify(failure ?? result.run.findings)}`).toBe('completed');
    } else if (c.expect.outcome === 'failed') {
      expect(result.run.status).toBe('failed');
      expect(failure?.code).toMatch(c.expect.code);
      expect(failure?.message.length).toBeGreaterThan(20);
    } else {
      expect(['completed', 'failed']).toContain(result.run.status);
      if (result.run.status === 'failed') expect(failure?.code).toMatch(c.expect.code);
    }
    expect(result.usersLost, `${c.fault}: users lost (${result.note})`).toBe(0);
    expect(result.duplicates, `${c.fault}: duplicates`).toBe(0);
    if (result.run.status === 'failed') {
      // A failed run leaves the table exactly as the baseline left it (a partial one: see assertPartial).
      if (ctx.baseline && !('partial' in c.expect)) expect(result.users).toEqual(ctx.baseline);
      expect(result.run.deactivated).toBe(0);
    } else {
      expect(result.extra, `${c.fault}: active users Personio does not have`).toBe(0);
    }
  }
}

function sortUsers(users: UserRecord[]): UserRecord[] {
  return [...users].sort((a, b) => a.personioId - b.personioId || a.userId.localeCompare(b.userId));
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Calls `action` once the simulator has received the run's first employee-list request (page 0 is then fixed). */
export async function afterFirstPage(ctx: FaultContext, action: () => void | Promise<void>, pages = 1): Promise<void> {
  const start = ctx.sim.stats().employeeListRequests;
  while (!ctx.done) {
    if (ctx.sim.stats().employeeListRequests - start >= pages) {
      await action();
      return;
    }
    await sleep(2);
  }
}
