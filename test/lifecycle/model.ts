import type { PoolStats } from './delivery.js';

/**
 * The simulation's model: what Personio did and when (in steps: one command is one step), and which runs fetched
 * when. The invariants are written from this and from Personio's own state, never from the code under test.
 *
 * A run "saw" an employee when the employee was in Personio, shown on the list, for the run's whole fetch, and its
 * data (existence, status, email) has not changed since before that fetch began: then every run that started
 * later sees it too, and nothing may undo what that run applied. Hiding an employee from the list (counted, not
 * shown) is not a change of its data: a run that sees fewer employees than Personio counts must deactivate nobody.
 */

export interface EmployeeHistory {
  id: number;
  /** Step of the last change of its data: hire, status, email (and leaving). */
  changedAt: number;
  /** Hide (true) and show (false) events, in step order. */
  visibility: { step: number; hidden: boolean }[];
  removedAt: number | undefined;
}

export interface RunModel {
  runId: string;
  /** The step its fetch started in; -Infinity when unknown (then the run is taken to have seen nobody). */
  fetchStart: number;
  /** The step its fetch ended in; undefined while it runs (or when it was killed). */
  fetchEnd: number | undefined;
  trigger: string;
  /** A delta run (webhooks) re-read only `readIds`: it saw no one else, and never judged anyone by absence. */
  mode: 'full' | 'delta';
  readIds?: ReadonlySet<number>;
  /** Active users by lower-cased email when its fetch started: whose address was still taken. */
  activeEmailsAtStart: Map<string, number[]>;
  /** The status last observed. */
  status: string | undefined;
  /** Users this run created, counted from the table step by step; `exact` false once a step mixed runs. */
  created: { count: number; exact: boolean };
  /** Seen writing users (an action that delivered only its messages changed a user). */
  wroteUsers: boolean;
  /** Set when the run was first seen held: the users as they were then (for the approval check). */
  held: HeldSnapshot | undefined;
}

export interface HeldSnapshot {
  step: number;
  /** userId → JSON of the user at the end of the step the run was first seen held. */
  users: Map<string, string>;
  /** Users active at the start or the end of that step. */
  activeUserIds: Set<string>;
}

export type ConnectionState = 'never' | 'connected' | 'disconnected';

/** Fields the tenant's mapping reads that a credential may lose the right to read (never email, status or id). */
export const REVOCABLE_ATTRIBUTES = ['position', 'department', 'team', 'office', 'last_name', 'hire_date'] as const;

export class Model {
  step = 0;
  connection: ConnectionState = 'never';
  readonly employees = new Map<number, EmployeeHistory>();
  readonly runs = new Map<string, RunModel>();
  gateClosed = false;
  /** Fetches waiting at the closed gate. */
  waitingFetches = 0;
  pool: PoolStats = { queued: 0, visible: 0, inDlq: 0, done: 0, total: 0 };
  unreadable = new Set<string>();
  hidden = new Set<number>();
  /** Present employees by id, and those inactive in Personio. */
  presentIds: number[] = [];
  inactiveIds: number[] = [];
  /** Addresses of employees who left Personio: a rehire may come back with one. */
  leftEmails = new Map<number, string>();
  /** Simulated time of the last schedule firing (epoch ms, on the hour). */
  lastFiring: number | undefined;
  faultRules = 0;
  /** Users Dado created itself (not imported): while not linked to Personio, no import may deactivate them. */
  readonly dadoUsers = new Set<string>();
  /** Employees who left Personio whose user was seen inactive: nothing may make it active again. */
  readonly leaversDeactivated = new Set<number>();
  readonly sweeper: boolean;

  constructor(
    readonly tenantId: string,
    initialIds: number[],
    options: { sweeper: boolean },
  ) {
    this.sweeper = options.sweeper;
    for (const id of initialIds) this.employees.set(id, { id, changedAt: -1, visibility: [], removedAt: undefined });
  }

  changed(id: number): void {
    const e = this.employees.get(id);
    if (e) e.changedAt = this.step;
    else this.employees.set(id, { id, changedAt: this.step, visibility: [], removedAt: undefined });
  }

  removed(id: number): void {
    this.changed(id);
    const e = this.employees.get(id);
    if (e) e.removedAt = this.step;
  }

  setHidden(id: number, hidden: boolean): void {
    this.employees.get(id)?.visibility.push({ step: this.step, hidden });
    if (hidden) this.hidden.add(id);
    else this.hidden.delete(id);
  }

  /** Whether `run` saw employee `id` (see the top of this file). */
  saw(run: RunModel, id: number): boolean {
    const e = this.employees.get(id);
    if (!e || e.removedAt !== undefined || run.fetchEnd === undefined) return false;
    if (run.mode === 'delta' && !run.readIds?.has(id)) return false;
    if (!(e.changedAt < run.fetchStart)) return false;
    let hidden = false;
    for (const event of e.visibility) {
      if (event.step < run.fetchStart) hidden = event.hidden;
      else if (event.step <= run.fetchEnd) return false;
    }
    return !hidden;
  }
}
