import type { Mapping, UserFieldName } from '../mapping/mapping.js';
import { forEachLimited } from '../util/concurrency.js';
import type { StoredUser } from '../users/user.js';
import type { FinalizeDeps } from './finalize.js';
import { heldFinding } from './findings.js';
import type { EmployeeFailure, Finding, Run } from './run.js';
import type { MessageMarker } from './store.js';

/** Writes in flight while deactivating: enough to finish 20,000 users well inside the worker's timeout. */
const WRITE_CONCURRENCY = 16;

/**
 * Departures below this are never held, whatever share they are: with four users every leaver is 25 %, and a tenant
 * that small would otherwise need an admin for each one, every run, forever. The completeness check
 * (`personio_list_incomplete`) is what protects small tenants from a list that came back short.
 */
export const MIN_HELD_DEPARTURES = 3;

export interface Decision {
  held: boolean;
  gone: StoredUser[];
  findings: Finding[];
}

/** Who this run may deactivate, and whether an admin must approve it first. */
export function decideDeactivations(deps: FinalizeDeps, run: Run, users: StoredUser[], markers: MessageMarker[], fetchFailures: EmployeeFailure[]): Decision {
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
      findings: [
        {
          code: 'personio_list_incomplete',
          message: `${run.rejectedCount} employees could not be handed on, too many to keep their ids; nobody was deactivated by this run.`,
        },
      ],
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
        {
          code: 'personio_list_empty',
          message: `Personio listed no employees, though ${active.length} users are active: check the credential's access in Personio.`,
        },
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
export async function deactivateAll(
  deps: Pick<FinalizeDeps, 'users'>,
  run: Pick<Run, 'tenantId' | 'runId' | 'startedAt'>,
  users: StoredUser[],
): Promise<number> {
  let count = 0;
  await forEachLimited(users, WRITE_CONCURRENCY, async (user) => {
    if (await deps.users.deactivate(run.tenantId, user, { asOf: run.startedAt, runId: run.runId, reason: 'not_in_personio' })) count++;
  });
  return count;
}
