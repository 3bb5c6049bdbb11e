import type { SimEmployeeView } from '../../local/personio-sim/index.js';
import type { Model, RunModel } from './model.js';
import type { Tenant } from './world.js';

/**
 * What the simulation reads after every action: the tenant's users and runs (raw items), its connection, and
 * Personio's employees; and the bookkeeping that turns two readings into what happened in between (runs that
 * appeared or changed status, users created or deactivated).
 */

export type Item = Record<string, unknown>;

export interface Observation {
  step: number;
  now: number;
  users: Item[];
  runs: Item[];
  connection: Item | undefined;
  /** Personio's employees (present ones), all attributes readable. */
  employees: SimEmployeeView[];
}

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

export async function read(model: Model, tenant: Tenant): Promise<Observation> {
  const [users, runs, connection] = await Promise.all([tenant.users(), tenant.runs(), tenant.connection()]);
  return { step: model.step, now: Date.now(), users, runs, connection, employees: tenant.sim.employees() };
}

export const isFinal = (status: unknown) => status === 'completed' || status === 'held' || status === 'failed';
/** Statuses that hold the tenant (one run at a time): anything not final, except approving a held run. */
export const blocks = (status: unknown) => !isFinal(status) && status !== 'approving';

/** Registers runs that appeared, follows fetch ends, and answers each run's status change since the last reading. */
export function followRuns(
  model: Model,
  tenant: Tenant,
  before: Observation | undefined,
  after: Observation,
): { run: RunModel; from: string | undefined; to: string }[] {
  const changes: { run: RunModel; from: string | undefined; to: string }[] = [];
  for (const item of after.runs) {
    const runId = String(item['runId']);
    let run = model.runs.get(runId);
    const handle = tenant.fetches.find((f) => f.runId === runId);
    if (!run) {
      run = {
        runId,
        // A run no fetch of ours answered for (none should exist): taken to have seen nobody.
        fetchStart: handle ? handle.startStep : Number.NEGATIVE_INFINITY,
        fetchEnd: undefined,
        trigger: String(item['trigger'] ?? handle?.trigger ?? '?'),
        mode: item['mode'] === 'delta' ? 'delta' : 'full',
        activeEmailsAtStart: activeEmails([...(before?.users ?? []), ...after.users]),
        status: undefined,
        created: { count: 0, exact: true },
        wroteUsers: false,
        held: undefined,
      };
      model.runs.set(runId, run);
    }
    // A fetch names its run only when it returns (import now names it up front): until then its run is taken to have
    // seen nobody; once it is known, the fetch's first step is when the run began (never later than it did).
    if (handle && run.fetchStart === Number.NEGATIVE_INFINITY) run.fetchStart = handle.startStep;
    if (handle && handle.endStep !== undefined && handle.settled?.kind === 'returned') run.fetchEnd = handle.endStep;
    const status = String(item['status']);
    if (status !== run.status) {
      changes.push({ run, from: run.status, to: status });
      run.status = status;
    }
  }
  return changes;
}

function activeEmails(users: Item[]): Map<string, number[]> {
  const map = new Map<string, number[]>();
  for (const u of users) {
    if (!u['active'] || typeof u['email'] !== 'string') continue;
    const key = u['email'].toLowerCase();
    map.set(key, [...(map.get(key) ?? []), Number(u['personioId'])]);
  }
  return map;
}

/** Whether any user appeared or changed between two readings. */
export function usersChanged(before: Observation, after: Observation): boolean {
  const previous = new Map(before.users.map((u) => [u['userId'], userJson(u)]));
  return after.users.some((u) => previous.get(u['userId']) !== userJson(u));
}

/** Users that appeared between two readings. */
export function newUsers(before: Observation, after: Observation): Item[] {
  const known = new Set(before.users.map((u) => u['userId']));
  return after.users.filter((u) => !known.has(u['userId']));
}

/**
 * Users deactivated between two readings because they left Personio (not because Personio's status says inactive):
 * also those created in between (by an older run's message) and deactivated right after.
 */
export function deactivatedByAbsence(before: Observation, after: Observation): Item[] {
  const previous = new Map(before.users.map((u) => [u['userId'], u]));
  return after.users.filter((u) => {
    const was = previous.get(u['userId']);
    return u['active'] === false && !!u['deactivatedAt'] && (!was || (was['active'] === true && !was['deactivatedAt']));
  });
}

/** Users whose active flag went from true to false between two readings, for whatever reason. */
export function turnedInactive(before: Observation, after: Observation): Item[] {
  const previous = new Map(before.users.map((u) => [u['userId'], u]));
  return after.users.filter((u) => previous.get(u['userId'])?.['active'] === true && u['active'] === false);
}

/** A user as the invariants compare it: its content, without the write's bookkeeping (timestamps). */
export function userJson(u: Item): string {
  const { updatedAt: _u, ...rest } = u;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/** The employees a run reported as not imported, with the reason (structured lists, or a finding naming the id). */
export function reportedFailures(run: Item): Map<number, string> {
  const out = new Map<number, string>();
  for (const key of Object.keys(run)) {
    const value = run[key];
    if (!Array.isArray(value) || !/fail|reject/i.test(key)) continue;
    for (const entry of value) {
      if (entry && typeof entry === 'object' && typeof entry.personioId === 'number') out.set(entry.personioId, String(entry.reason ?? entry.code ?? key));
    }
  }
  const findings = [...((run['findings'] as Item[] | undefined) ?? []), ...(run['failure'] ? [run['failure'] as Item] : [])];
  for (const finding of findings) {
    const ids = Array.isArray(finding['personioIds']) ? (finding['personioIds'] as unknown[]) : [];
    for (const id of ids) if (typeof id === 'number') out.set(id, String(finding['code']));
    const text = String(finding['message'] ?? '');
    for (const match of text.matchAll(/(?<![\d.:T-])(\d{4,})(?![\d.:])/g)) {
      const id = Number(match[1]);
      if (!out.has(id)) out.set(id, String(finding['code']));
    }
  }
  return out;
}
