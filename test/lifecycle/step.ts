import { checkAfterStep, checkApproval, checkCounters, checkImportsRun, checkNothingStuck } from './invariants.js';
import type { Model } from './model.js';
import { deactivatedByAbsence, followRuns, type InvariantViolation, isFinal, newUsers, read, type Observation, userJson, usersChanged } from './observe.js';
import type { ApiAnswer, Tenant } from './world.js';

/**
 * How a command touches the world: every action that may run a handler goes through `act`, which reads the tables
 * before and after it and checks what only that action can explain (a run's counters when it finished, an
 * approval); `endStep` checks the invariants that hold after every step. A violation is thrown, so fast-check
 * shrinks the sequence.
 */

const lastReading = new WeakMap<Model, Observation>();

/** Invariants (by name prefix) not to fail on: to look past one that every sequence breaks. */
const ignored: string[] = [];
export function ignoreInvariants(prefixes: readonly string[]): void {
  ignored.splice(0, ignored.length, ...prefixes);
}

function throwFirst(found: InvariantViolation[]): void {
  const first = found.find((v) => !ignored.some((prefix) => v.invariant.startsWith(prefix)));
  if (first) throw first;
}

export function beginStep(model: Model, tenant: Tenant): void {
  model.step++;
  tenant.step = model.step;
}

export interface ActOptions {
  /** Runs whose messages this action delivered (to attribute the users it created). */
  deliveredRuns?: ReadonlySet<string>;
  /** An approval of this run happens in this action. */
  approval?: string;
}

export async function act<T>(model: Model, tenant: Tenant, options: ActOptions, action: () => Promise<T>): Promise<T> {
  const before = lastReading.get(model) ?? (await read(model, tenant));
  const approvedRun = options.approval ? model.runs.get(options.approval) : undefined;
  const approvedStatus = approvedRun?.status;
  const result = await action();
  await tenant.quiesceFetches();
  await tenant.pool.pump();
  const after = await read(model, tenant);
  lastReading.set(model, after);

  const found: InvariantViolation[] = [];
  const changes = followRuns(model, tenant, before, after);

  const created = newUsers(before, after);
  const delivered = [...(options.deliveredRuns ?? [])];
  if (created.length > 0) {
    const runs = delivered.length > 0 ? delivered : [...model.runs.keys()];
    for (const runId of runs) {
      const run = model.runs.get(runId);
      if (!run) continue;
      if (delivered.length === 1) run.created.count += created.length;
      else run.created.exact = false;
    }
  }

  if (delivered.length === 1 && usersChanged(before, after)) {
    const run = model.runs.get(delivered[0] as string);
    if (run) run.wroteUsers = true;
  }

  for (const { run, to } of changes) {
    if (to === 'held' && !run.held) {
      const active = new Set([...before.users, ...after.users].filter((u) => u['active'] === true).map((u) => String(u['userId'])));
      run.held = { step: model.step, users: new Map(after.users.map((u) => [String(u['userId']), userJson(u)])), activeUserIds: active };
    }
  }
  const finished = changes.filter(
    ({ run, from, to }) => (to === 'completed' || to === 'held') && !isFinal(from) && from !== 'approving' && run.runId !== options.approval,
  );
  const deactivatedHere = finished.length === 1 && !options.approval ? deactivatedByAbsence(before, after) : undefined;
  for (const { run } of finished) {
    const item = after.runs.find((r) => r['runId'] === run.runId);
    if (item) found.push(...checkCounters(run, item, deactivatedHere));
  }

  if (approvedRun && options.approval) {
    const answer = result as unknown as ApiAnswer;
    tenant.world.coverage.add(
      `approvals of a ${approvedStatus ?? 'unknown'} run answered ${answer.status}${answer.body?.error?.code ? ` ${answer.body.error.code}` : ''}`,
    );
    const newerWriters = [...model.runs.values()]
      // A delta run (webhooks) saw a few employees, not Personio: it supersedes nothing; the users it wrote are
      // "touched since", which the checks below hold the approval to.
      .filter((r) => r.runId !== approvedRun.runId && r.fetchStart > approvedRun.fetchStart && r.mode !== 'delta')
      .filter((r) => {
        const item = before.runs.find((x) => x['runId'] === r.runId);
        return r.wroteUsers || (item && Number(item['created'] ?? 0) + Number(item['updated'] ?? 0) > 0);
      })
      .map((r) => r.runId);
    found.push(
      ...checkApproval(model, {
        run: approvedRun,
        statusBefore: approvedStatus,
        answer,
        before,
        after,
        connected: model.connection === 'connected',
        newerWriters,
      }),
    );
  }
  throwFirst(found);
  return result;
}

/** The invariants after every step, and the summaries the commands' preconditions read. */
export async function endStep(model: Model, tenant: Tenant): Promise<void> {
  const obs = lastReading.get(model) ?? (await read(model, tenant));
  const fresh = obs.step === model.step ? obs : await read(model, tenant);
  lastReading.set(model, fresh);
  const found = checkAfterStep(model, fresh);
  summarize(model, tenant, fresh);
  throwFirst(found);
}

/**
 * Invariant 3 at the end of a settle: every run started before `startedBefore` must be final, and the run of the
 * fetch that came at `nextFetchAt` (faults cleared, every message delivered) must have finished (completed or held).
 */
export async function checkStuck(model: Model, tenant: Tenant, startedBefore: number, nextFetchAt: number | undefined): Promise<void> {
  const obs = await read(model, tenant);
  lastReading.set(model, obs);
  throwFirst([...checkNothingStuck(obs, startedBefore), ...(nextFetchAt === undefined ? [] : checkImportsRun(obs, nextFetchAt))]);
}

function summarize(model: Model, tenant: Tenant, obs: Observation): void {
  model.pool = tenant.pool.stats();
  model.waitingFetches = tenant.liveFetches().length;
  model.gateClosed = tenant.gate.isClosed;
  model.presentIds = obs.employees.map((e) => e.id);
  model.inactiveIds = obs.employees.filter((e) => e.status === 'inactive').map((e) => e.id);
  model.faultRules = tenant.world.faults.rules.length;
}

/** Forgets the reading of a model whose sequence ended. */
export function forget(model: Model): void {
  lastReading.delete(model);
}
