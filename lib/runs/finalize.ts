import type { Mapping, UserFieldName } from '../mapping/mapping.js';
import { forEachLimited } from '../util/concurrency.js';
import type { UserStore } from '../users/store.js';
import type { StoredUser } from '../users/user.js';
import { leaseUntil, runLeases } from './lease.js';
import type { Finding, Run } from './run.js';
import { sumCounts, type EmployeeFailure, type MessageMarker, type RunStore } from './store.js';

/** Writes in flight while finishing a run: enough to finish 20,000 users well inside the worker's timeout. */
const WRITE_CONCURRENCY = 16;
/**
 * Departures below this are never held, whatever share they are: with four users every leaver is 25 %, and a tenant
 * that small would otherwise need an admin for each one, every run, forever. The completeness check
 * (`personio_list_incomplete`) is what protects small tenants from a list that came back short.
 */
export const MIN_HELD_DEPARTURES = 3;

export interface FinalizeDeps {
  runs: RunStore;
  users: UserStore;
  now: () => Date;
  /** Share of active users a run may deactivate before it is held for approval. */
  deactivationThreshold: number;
}

/**
 * Finishes a run whose messages are all processed, if this caller wins the claim: links managers, deactivates users
 * no longer in Personio (never deletes), and writes the report. Safe to call from every worker and from the fetch;
 * only one does the work. A run that is final, failed, or whose lease expired is refused by the claim: its messages
 * still apply their data, but it decides nothing.
 */
export async function finalizeRun(deps: FinalizeDeps, tenantId: string, runId: string): Promise<'completed' | 'held' | undefined> {
  const now = deps.now();
  if (!(await deps.runs.claimFinalization(tenantId, runId, now, leaseUntil(now, runLeases.finalizingMs)))) return undefined;
  const run = await deps.runs.get(tenantId, runId);
  if (!run) return undefined;

  const markers = await deps.runs.markers(tenantId, runId);
  const counts = sumCounts(markers);
  const fetchFailures = run.rejected ?? [];
  counts.failed += run.rejectedCount ?? fetchFailures.length;
  const users = await deps.users.listStored(tenantId);
  const findings: Finding[] = [
    ...run.findings,
    ...failureFindings([...markers.flatMap((m) => m.failures), ...fetchFailures]),
    ...problemFindings(markers.flatMap((m) => m.problems)),
  ];

  await linkManagers(deps, tenantId, users, findings);

  const decision = decideDeactivations(deps, run, users, markers, fetchFailures);
  findings.push(...decision.findings);
  let deactivated = 0;
  if (decision.held) {
    await deps.runs.savePending(tenantId, runId, decision.gone.map((u) => ({ userId: u.userId, contentHash: u.contentHash })));
  } else {
    // A completion taken over from a worker that died after deactivating some: those count as this run's too.
    const earlier = users.filter((u) => !u.active && u.deactivatedInRun === runId).length;
    deactivated = (await deactivateAll(deps, run, decision.gone)) + earlier;
    const skipped = decision.gone.length - (deactivated - earlier);
    if (skipped > 0) findings.push({ code: 'deactivation_skipped', message: `${skipped} user(s) missing from Personio were left active: a newer import wrote them after this run began.` });
  }
  // Employees whose address was held by a user the run might find gone: now every leaver is known (and deactivated,
  // unless the run is held), so the address passes to them or is a genuine conflict.
  const deferred = markers.flatMap((m) => m.deferred);
  if (deferred.length > 0) {
    const late = await deps.users.upsertMany(tenantId, deferred, { runId, fetchedAt: run.startedAt, final: true });
    counts.created += late.created;
    counts.updated += late.updated;
    counts.unchanged += late.unchanged;
    counts.failed += late.failures.length;
    counts.dynamoWriteRequests += late.writeRequests;
    findings.push(...failureFindings(late.failures));
  }
  const status = decision.held ? 'held' : 'completed';
  await deps.runs.finish(tenantId, runId, {
    from: 'finalizing',
    status,
    findings,
    deactivated,
    at: deps.now(),
    counts,
    ...(decision.held ? { pendingDeactivations: decision.gone.length } : {}),
  });
  return status;
}

interface Decision {
  held: boolean;
  gone: StoredUser[];
  findings: Finding[];
}

/** Who this run may deactivate, and whether an admin must approve it first. */
function decideDeactivations(deps: FinalizeDeps, run: Run, users: StoredUser[], markers: MessageMarker[], fetchFailures: EmployeeFailure[]): Decision {
  const seen = seenIds(markers, fetchFailures);
  // A list shorter than Personio's own count (order unstable between pages, an employee counted but not shown, a
  // shift the verification pass missed) cannot tell who left: deactivate nobody.
  if (run.personioTotal !== undefined && run.employeesFetched < run.personioTotal) {
    return {
      held: false,
      gone: [],
      findings: [
        {
          code: 'personio_list_incomplete',
          message: `Personio counted ${run.personioTotal} employees but listed ${run.employeesFetched}; nobody was deactivated by this run. The next import checks again.`,
        },
      ],
    };
  }
  if ((run.rejectedCount ?? 0) > fetchFailures.length) {
    return {
      held: false,
      gone: [],
      findings: [{ code: 'personio_list_incomplete', message: `${run.rejectedCount} employees could not be handed on, too many to keep their ids; nobody was deactivated by this run.` }],
    };
  }
  const active = managedActiveUsers(users);
  // Only users this run could judge: one an import fetched after this run began is not this run's to deactivate.
  const gone = active.filter((u) => !seen.has(u.personioId) && (!u.syncedAt || u.syncedAt <= run.startedAt));
  // An empty list is never on its own a reason to deactivate everyone, however few they are.
  if (seen.size === 0 && gone.length > 0) {
    return {
      held: true,
      gone,
      findings: [
        { code: 'personio_list_empty', message: `Personio listed no employees, though ${active.length} users are active: check the credential's access in Personio.` },
        heldFinding(gone.length, active.length, 'Personio listed nobody'),
      ],
    };
  }
  const vanished = vanishedFields(run.mapping, markers, active);
  if (!statusReadable(markers)) {
    return {
      held: true,
      gone,
      findings: [
        {
          code: 'status_not_readable',
          message:
            'Personio sent no status for any employee: the credential can no longer read Status, so leavers (status inactive) cannot be told apart. Enable Status in Personio under Settings → Integrations → API credentials → Readable employee attributes; the next import applies it.',
        },
        ...vanished,
        heldFinding(gone.length, active.length, 'Personio sent no status'),
      ],
    };
  }
  if (vanished.length > 0) {
    return { held: true, gone, findings: [...vanished, heldFinding(gone.length, active.length, 'a mapped field is missing for everyone')] };
  }
  if (gone.length === 0) return { held: false, gone, findings: [] };
  const share = gone.length / active.length;
  if (share > deps.deactivationThreshold && gone.length >= MIN_HELD_DEPARTURES) {
    return {
      held: true,
      gone,
      findings: [heldFinding(gone.length, active.length, `more than the ${Math.round(deps.deactivationThreshold * 100)} % allowed`)],
    };
  }
  return { held: false, gone, findings: [] };
}

/** Whether the run's employees carried Personio's status (a run without employees has nothing to say). */
function statusReadable(markers: MessageMarker[]): boolean {
  const employees = markers.reduce((n, m) => n + m.personioIds.length, 0);
  return employees === 0 || markers.some((m) => m.statusSeen > 0);
}

function heldFinding(count: number, active: number, why: string): Finding {
  const share = active === 0 ? 0 : Math.round((count / active) * 100);
  return {
    code: 'deactivation_held',
    message: `This run would deactivate ${count} of ${active} active users (${share} %), and is held because ${why}; nobody was deactivated. Approving the run deactivates exactly these ${count} users, except any a newer import has changed since.`,
  };
}

/**
 * Mapped fields that no employee of the run carried although most active users have a value: the typical sign of an
 * attribute taken off the credential's readable list. Users keep their values (absent is not null); the run is held
 * so nothing is deactivated on a partial picture.
 */
function vanishedFields(mapping: Mapping, markers: MessageMarker[], active: StoredUser[]): Finding[] {
  if (!markers.some((m) => m.personioIds.length > 0)) return [];
  const present = new Set(markers.flatMap((m) => m.presentFields));
  if (active.length === 0) return [];
  const findings: Finding[] = [];
  for (const [field, source] of Object.entries(mapping.fields) as [UserFieldName, string | null][]) {
    if (!source || present.has(field)) continue;
    const withValue = active.filter((u) => u[field] !== null && u[field] !== undefined).length;
    if (withValue / active.length <= 0.5) continue;
    findings.push({
      code: 'field_missing',
      message: `Personio sent no ${field} (attribute ${source}) for any employee, though ${withValue} of ${active.length} active users have one: the credential may no longer be allowed to read it. Users kept their ${field}. Make the attribute readable again in Personio, or approve the run.`,
    });
  }
  return findings;
}

const failureReasons: Record<string, string> = {
  missing_id: 'had no Personio id',
  missing_email: 'have no usable email address in Personio',
  email_taken: 'have an email address that the user of another, still active, Personio employee has',
  conflict: 'changed concurrently; the next import will retry them',
  not_storable: 'have a value that cannot be stored',
  employee_too_large: 'are too large to import (over the message size)',
};

/** One finding per reason (and attribute), naming Personio ids and attributes, never values. */
export function failureFindings(failures: EmployeeFailure[]): Finding[] {
  const byReason = new Map<string, { reason: string; attribute: string | undefined; ids: (number | null)[]; pairs: [number | null, number][] }>();
  for (const failure of failures) {
    const key = `${failure.reason}\u0000${failure.attribute ?? ''}`;
    const entry = byReason.get(key) ?? { reason: failure.reason, attribute: failure.attribute, ids: [], pairs: [] };
    entry.ids.push(failure.personioId);
    if (failure.otherPersonioId !== undefined) entry.pairs.push([failure.personioId, failure.otherPersonioId]);
    byReason.set(key, entry);
  }
  return [...byReason.values()].map(({ reason, attribute, ids, pairs }) => {
    const sample = reason === 'email_taken' && pairs.length > 0 ? pairSample(pairs) : idSample(ids);
    const what = failureReasons[reason] ?? reason;
    const where = attribute ? ` in attribute ${attribute}` : '';
    return {
      code: `employees_${reason}`,
      message: `${ids.length} employee(s) ${what}${where} and were not imported${attribute ? ' with that value' : ''}${sample ? ` (Personio ids ${sample})` : ''}.`,
    };
  });
}

const problemWording: Record<string, string> = {
  unreadable_value: 'could not be read',
  not_storable: 'cannot be stored',
};

/** Values left out of imported employees: one finding per kind and attribute, with Personio ids, never the values. */
export function problemFindings(problems: EmployeeFailure[]): Finding[] {
  const byKind = new Map<string, { reason: string; attribute: string; ids: (number | null)[] }>();
  for (const problem of problems) {
    const attribute = problem.attribute ?? 'unknown';
    const key = `${problem.reason}\u0000${attribute}`;
    const entry = byKind.get(key) ?? { reason: problem.reason, attribute, ids: [] };
    entry.ids.push(problem.personioId);
    byKind.set(key, entry);
  }
  return [...byKind.values()].map(({ reason, attribute, ids }) => ({
    code: `values_${reason}`,
    message: `The ${attribute} value of ${ids.length} employee(s) ${problemWording[reason] ?? reason}; those fields were left as they were (Personio ids ${idSample(ids)}).`,
  }));
}

/** Up to ten `id (address held by other)` pairs. */
function pairSample(pairs: readonly [number | null, number][]): string {
  const sample = pairs.slice(0, 10).map(([id, other]) => `${id ?? 'unknown'} (address held by active employee ${other})`);
  return `${sample.join(', ')}${pairs.length > sample.length ? ', …' : ''}`;
}

/** Up to ten of the (known) ids, `, …` when there are more; empty when none is known. */
function idSample(ids: readonly (number | null)[]): string {
  const sample = ids.filter((id) => id !== null).slice(0, 10);
  if (sample.length === 0) return '';
  return `${sample.join(', ')}${ids.length > sample.length ? ', …' : ''}`;
}

async function linkManagers(deps: FinalizeDeps, tenantId: string, users: StoredUser[], findings: Finding[]): Promise<void> {
  const userIdByPersonioId = new Map(users.map((u) => [u.personioId, u.userId]));
  const broken: number[] = [];
  const changes: { user: StoredUser; managerUserId: string | null }[] = [];
  for (const user of users) {
    const managerPersonioId = user.managerPersonioId ?? null;
    const wanted = managerPersonioId === null ? null : (userIdByPersonioId.get(managerPersonioId) ?? null);
    if (managerPersonioId !== null && wanted === null) broken.push(user.personioId);
    if (wanted !== (user.managerUserId ?? null)) changes.push({ user, managerUserId: wanted });
  }
  await forEachLimited(changes, WRITE_CONCURRENCY, async ({ user, managerUserId }) => {
    if (await deps.users.setManagerLink(tenantId, user.userId, user.managerPersonioId ?? null, managerUserId)) user.managerUserId = managerUserId;
  });
  if (broken.length > 0) {
    findings.push({
      code: 'broken_manager_links',
      message: `${broken.length} user(s) have a supervisor who is not among the imported users (Personio ids ${idSample(broken)}).`,
    });
  }
}

/** The Personio ids a run saw: every employee its messages carried, and those it could not import. */
export function seenIds(markers: MessageMarker[], fetchFailures: EmployeeFailure[] = []): Set<number> {
  const seen = new Set<number>();
  for (const marker of markers) {
    for (const id of marker.personioIds) seen.add(id);
    for (const failure of marker.failures) if (failure.personioId !== null) seen.add(failure.personioId);
  }
  for (const failure of fetchFailures) if (failure.personioId !== null) seen.add(failure.personioId);
  return seen;
}

/** Active users linked to Personio: the ones an import manages (a Dado user never linked to Personio is not ours). */
function managedActiveUsers(users: StoredUser[]): StoredUser[] {
  return users.filter((u) => u.active && typeof u.personioId === 'number');
}

/** Deactivates each (never deletes) under the versioned condition; answers how many were deactivated. */
export async function deactivateAll(deps: Pick<FinalizeDeps, 'users'>, run: Pick<Run, 'tenantId' | 'runId' | 'startedAt'>, users: StoredUser[]): Promise<number> {
  let count = 0;
  await forEachLimited(users, WRITE_CONCURRENCY, async (user) => {
    if (await deps.users.deactivate(run.tenantId, user, { asOf: run.startedAt, runId: run.runId, reason: 'not_in_personio' })) count++;
  });
  return count;
}
