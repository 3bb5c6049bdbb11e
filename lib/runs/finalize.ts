import type { Mapping, UserFieldName } from '../mapping/mapping.js';
import { forEachLimited } from '../util/concurrency.js';
import type { UserStore } from '../users/store.js';
import type { UserRecord } from '../users/user.js';
import type { Finding, Run } from './run.js';
import type { MessageMarker, RunStore } from './store.js';

/** Writes in flight while finishing a run: enough to finish 20,000 users well inside the worker's timeout. */
const WRITE_CONCURRENCY = 16;

export interface FinalizeDeps {
  runs: RunStore;
  users: UserStore;
  now: () => Date;
  /** Share of active users a run may deactivate before it is held for approval. */
  deactivationThreshold: number;
}

/**
 * Finishes a run whose messages are all processed, if this caller wins the claim: links managers,
 * deactivates users no longer in Personio (never deletes), and writes the findings. Safe to call
 * from every worker and from the fetch; only one does the work and gets the run's final status.
 */
export async function finalizeRunIfDone(
  deps: FinalizeDeps,
  run: Pick<Run, 'tenantId' | 'runId' | 'status' | 'messagesSent' | 'messagesProcessed' | 'mapping'>,
): Promise<'completed' | 'held' | undefined> {
  const ready = run.status === 'processing' || run.status === 'finalizing';
  if (!ready || run.messagesSent === undefined || run.messagesProcessed < run.messagesSent) return undefined;
  if (!(await deps.runs.claimFinalization(run.tenantId, run.runId, deps.now()))) return undefined;

  const markers = await deps.runs.markers(run.tenantId, run.runId);
  const users = await deps.users.list(run.tenantId);
  const findings: Finding[] = failureFindings(markers);

  await linkManagers(deps, run.tenantId, users, findings);
  const vanished = vanishedFields(run.mapping, markers, users);
  findings.push(...vanished);
  // A field gone for everyone means Personio is not telling the whole story: apply nothing further.
  const deactivation = vanished.length > 0 ? { count: 0, held: true, findings: [] } : await deactivateMissing(deps, run.tenantId, users, markers);
  findings.push(...deactivation.findings);

  const status = deactivation.held ? 'held' : 'completed';
  await deps.runs.finish(run.tenantId, run.runId, { from: 'finalizing', status, findings, deactivated: deactivation.count, at: deps.now() });
  return status;
}

/**
 * Mapped fields that no employee of the run carried although most active users have a value: the
 * typical sign of an attribute taken off the credential's readable list. Users keep their values
 * (absent is not null); the run is held so nothing is deactivated on a partial picture.
 */
function vanishedFields(mapping: Mapping, markers: MessageMarker[], users: UserRecord[]): Finding[] {
  if (!markers.some((m) => m.personioIds.length > 0)) return [];
  const present = new Set(markers.flatMap((m) => m.presentFields));
  const active = managedActiveUsers(users);
  if (active.length === 0) return [];
  const findings: Finding[] = [];
  for (const [field, source] of Object.entries(mapping.fields) as [UserFieldName, string | null][]) {
    if (!source || present.has(field)) continue;
    const withValue = active.filter((u) => u[field] !== null && u[field] !== undefined).length;
    if (withValue / active.length <= 0.5) continue;
    findings.push({
      code: 'field_missing',
      message: `Personio sent no ${field} (attribute ${source}) for any employee, though ${withValue} of ${active.length} active users have one: the credential may no longer be allowed to read it. Users kept their ${field}; the run is held and nothing was deactivated. Make the attribute readable again in Personio, or approve the run.`,
    });
  }
  return findings;
}

function failureFindings(markers: MessageMarker[]): Finding[] {
  const byReason = new Map<string, (number | null)[]>();
  for (const marker of markers) {
    for (const failure of marker.failures) {
      const ids = byReason.get(failure.reason) ?? [];
      ids.push(failure.personioId);
      byReason.set(failure.reason, ids);
    }
  }
  const reasons: Record<string, string> = {
    missing_id: 'had no Personio id',
    missing_email: 'have no usable email address in Personio',
    email_taken: 'have an email address that another imported user already has',
    conflict: 'changed concurrently; the next import will retry them',
  };
  return [...byReason].map(([reason, ids]) => {
    const sample = idSample(ids);
    return {
      code: `employees_${reason}`,
      message: `${ids.length} employee(s) ${reasons[reason] ?? reason} and were not imported${sample ? ` (Personio ids ${sample})` : ''}.`,
    };
  });
}

/** Up to ten of the (known) ids, `, …` when there are more; empty when none is known. */
function idSample(ids: readonly (number | null)[]): string {
  const sample = ids.filter((id) => id !== null).slice(0, 10);
  if (sample.length === 0) return '';
  return `${sample.join(', ')}${ids.length > sample.length ? ', …' : ''}`;
}

async function linkManagers(deps: FinalizeDeps, tenantId: string, users: UserRecord[], findings: Finding[]): Promise<void> {
  const userIdByPersonioId = new Map(users.map((u) => [u.personioId, u.userId]));
  const broken: number[] = [];
  const changes: { user: UserRecord; managerUserId: string | null }[] = [];
  for (const user of users) {
    const wanted = user.managerPersonioId === null ? null : (userIdByPersonioId.get(user.managerPersonioId) ?? null);
    if (user.managerPersonioId !== null && wanted === null) broken.push(user.personioId);
    if (wanted !== user.managerUserId) changes.push({ user, managerUserId: wanted });
  }
  await forEachLimited(changes, WRITE_CONCURRENCY, async ({ user, managerUserId }) => {
    await deps.users.applyDerived(tenantId, user, { managerUserId });
    user.managerUserId = managerUserId;
  });
  if (broken.length > 0) {
    findings.push({
      code: 'broken_manager_links',
      message: `${broken.length} user(s) have a supervisor who is not among the imported users (Personio ids ${idSample(broken)}).`,
    });
  }
}

/** The personio ids a run saw, across all its messages (employees that failed mapping included). */
export function seenIds(markers: MessageMarker[]): Set<number> {
  const seen = new Set<number>();
  for (const marker of markers) for (const id of marker.personioIds) seen.add(id);
  return seen;
}

/** Active users the import manages that the run did not see: a Dado user never linked to Personio is not ours. */
export function missingUsers(users: UserRecord[], seen: Set<number>): { active: UserRecord[]; gone: UserRecord[] } {
  const active = managedActiveUsers(users);
  return { active, gone: active.filter((u) => !seen.has(u.personioId)) };
}

/** Active users linked to Personio: the ones an import manages. */
function managedActiveUsers(users: UserRecord[]): UserRecord[] {
  return users.filter((u) => u.active && typeof u.personioId === 'number');
}

/** Deactivates (never deletes), recording when and why. */
export async function deactivate(deps: Pick<FinalizeDeps, 'users' | 'now'>, tenantId: string, users: UserRecord[]): Promise<void> {
  const at = deps.now().toISOString();
  await forEachLimited(users, WRITE_CONCURRENCY, async (user) => {
    await deps.users.applyDerived(tenantId, user, { active: false, deactivatedAt: at, deactivationReason: 'not_in_personio' });
  });
}

async function deactivateMissing(
  deps: FinalizeDeps,
  tenantId: string,
  users: UserRecord[],
  markers: MessageMarker[],
): Promise<{ count: number; held: boolean; findings: Finding[] }> {
  const { active, gone } = missingUsers(users, seenIds(markers));
  if (gone.length === 0) return { count: 0, held: false, findings: [] };

  const share = gone.length / active.length;
  if (share > deps.deactivationThreshold) {
    return {
      count: 0,
      held: true,
      findings: [
        {
          code: 'deactivation_held',
          message: `This run would deactivate ${gone.length} of ${active.length} active users (${Math.round(share * 100)} %), more than the ${Math.round(deps.deactivationThreshold * 100)} % allowed; nothing was deactivated. Approve the run to apply it.`,
        },
      ],
    };
  }
  await deactivate(deps, tenantId, gone);
  return { count: gone.length, held: false, findings: [] };
}
