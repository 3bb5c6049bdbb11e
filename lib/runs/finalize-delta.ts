import type { StoredUser } from '../users/user.js';
import { forEachLimited } from '../util/concurrency.js';
import { MIN_HELD_DEPARTURES, type Decision } from './deactivation.js';
import { applyDeferred, holdOrDeactivate, type FinalizeDeps } from './finalize.js';
import { failureFindings, heldFinding, idSample, problemFindings } from './findings.js';
import type { Finding, Run } from './run.js';
import { sumCounts, type MessageMarker } from './store.js';

/** Webhook deletions are guarded over this much time: a burst of person.deleted is judged as one mass departure. */
export const WEBHOOK_DEACTIVATION_WINDOW_MS = 60 * 60_000;
/** A delta run that finished within the window may have started this much earlier (processing lease plus its grace). */
const LONGEST_DELTA_RUN_MS = 2 * 60 * 60_000;
const WRITE_CONCURRENCY = 16;

/**
 * Finishes a delta run (the caller claimed its finalization): counts its messages, links the managers of the users it
 * wrote, and deactivates (never deletes) the users of the employees Personio answered 404 for, under the same write
 * condition as a full run (no import wrote them since this run began). It never deactivates by absence, never reports
 * an incomplete list, and lists the tenant's users only when it has someone to deactivate (for the guard's share).
 * It supersedes no held run: it did not see all of Personio.
 */
export async function finalizeDelta(deps: FinalizeDeps, run: Run, markers: MessageMarker[]): Promise<'completed' | 'held'> {
  const { tenantId, runId } = run;
  const counts = sumCounts(markers);
  const fetchFailures = run.rejected ?? [];
  counts.failed += run.rejectedCount ?? fetchFailures.length;
  const findings: Finding[] = [
    ...run.findings,
    ...failureFindings([...markers.flatMap((m) => m.failures), ...fetchFailures]),
    ...problemFindings(markers.flatMap((m) => m.problems)),
  ];
  await linkWrittenManagers(
    deps,
    tenantId,
    markers.flatMap((m) => m.personioIds),
    findings,
  );

  const goneUsers = await usersOf(deps, tenantId, run.gone ?? []);
  // A completion taken over from a worker that died after deactivating some: those count as this run's too.
  const earlier = goneUsers.filter((u) => !u.active && u.deactivatedInRun === runId).length;
  const candidates = goneUsers.filter((u) => u.active && (!u.syncedAt || u.syncedAt <= run.startedAt));
  const decision: Decision = candidates.length === 0 ? { held: false, gone: [], findings: [] } : await guard(deps, run, candidates);
  findings.push(...decision.findings);

  const deactivated = earlier + (await holdOrDeactivate(deps, run, decision, findings, 'deleted in Personio'));
  if (deactivated > 0) {
    const ids = [...goneUsers.filter((u) => !u.active && u.deactivatedInRun === runId), ...(decision.held ? [] : decision.gone)].map((u) => u.personioId);
    findings.push({
      code: 'deleted_in_personio',
      message: `${deactivated} user(s) whose employee was deleted in Personio (it answered 404 when re-read) were deactivated, not deleted (Personio ids ${idSample(ids)}).`,
    });
  }
  // As for a full run: addresses held by a user this run might have found gone pass on now, or are a genuine conflict.
  await applyDeferred(deps, run, markers, counts, findings);
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

/**
 * Webhook deletions are held like a full run's departures: this run's candidates together with the users delta runs
 * deactivated in the last hour, and those held delta runs of the hour would deactivate, over the share of active users
 * (counted with the deactivated back in, as the hour began) and at least MIN_HELD_DEPARTURES, wait for an admin. Held
 * ones count so that a burst right after a hold is held too, not let through because the first part was only held (a
 * person named by both counts twice: the error holds, never passes). Full runs' deactivations do not count: they have
 * their own guard, over the whole list, and a daily reconciliation catching up on a backlog would otherwise hold the
 * ordinary deletions of the hour after it. Two delta runs finishing at the same instant each see only the other's
 * finished part; the next one within the hour sees both.
 */
async function guard(deps: FinalizeDeps, run: Run, candidates: StoredUser[]): Promise<Decision> {
  const now = deps.now().getTime();
  const since = new Date(now - WEBHOOK_DEACTIVATION_WINDOW_MS).toISOString();
  const recentRuns = await deps.runs.startedSince(run.tenantId, new Date(now - WEBHOOK_DEACTIVATION_WINDOW_MS - LONGEST_DELTA_RUN_MS), [
    'runId',
    'mode',
    'status',
    'finishedAt',
    'deactivated',
    'pendingDeactivations',
  ]);
  let recent = 0;
  let pending = 0;
  for (const r of recentRuns) {
    if (r.mode !== 'delta' || r.runId === run.runId || r.finishedAt === undefined || r.finishedAt < since) continue;
    // Waiting for an admin (or being approved): its users are still active, so they are not in the denominator's add-back.
    if (r.status === 'held' || r.status === 'approving') pending += r.pendingDeactivations ?? 0;
    else recent += r.deactivated ?? 0;
  }
  const active = (await deps.users.listStored(run.tenantId)).filter((u) => u.active && typeof u.personioId === 'number').length;
  const departures = recent + pending + candidates.length;
  const share = departures / Math.max(1, active + recent);
  if (departures >= MIN_HELD_DEPARTURES && share > deps.deactivationThreshold) {
    const held = pending > 0 ? ` and the ${pending} held for approval` : '';
    const why = `together with the ${recent} user(s) deactivated through Personio's webhooks in the last hour${held}, deletions in Personio reached more than the ${Math.round(deps.deactivationThreshold * 100)} % allowed`;
    return { held: true, gone: candidates, findings: [heldFinding(candidates.length, active, why)] };
  }
  return { held: false, gone: candidates, findings: [] };
}

/** The stored users of these Personio employees (batched reads: the link item or the derived id), each once. */
async function usersOf(deps: FinalizeDeps, tenantId: string, personioIds: number[]): Promise<StoredUser[]> {
  if (personioIds.length === 0) return [];
  const resolved = await deps.users.resolve(tenantId, [...new Set(personioIds)]);
  const users = new Map<string, StoredUser>();
  for (const { user } of resolved.values()) if (user && typeof user.personioId === 'number') users.set(user.userId, user);
  return [...users.values()];
}

/**
 * Links the users this run wrote to their managers' users, reading only those users and their managers. Users who
 * report to someone this run created were given the derived id of their manager's future user when they were written
 * (lib/users/upserts.ts); the rare manager linked to an existing Dado user instead is corrected by the next full run.
 */
async function linkWrittenManagers(deps: FinalizeDeps, tenantId: string, personioIds: number[], findings: Finding[]): Promise<void> {
  const users = await usersOf(deps, tenantId, personioIds);
  const managerIds = [...new Set(users.flatMap((u) => (typeof u.managerPersonioId === 'number' ? [u.managerPersonioId] : [])))];
  const managers = managerIds.length > 0 ? await deps.users.resolve(tenantId, managerIds) : new Map<number, { userId: string; user: StoredUser | undefined }>();
  const broken: number[] = [];
  const changes: { user: StoredUser; managerUserId: string | null }[] = [];
  for (const user of users) {
    const managerPersonioId = user.managerPersonioId ?? null;
    const manager = managerPersonioId === null ? undefined : managers.get(managerPersonioId);
    const wanted = manager?.user ? manager.userId : null;
    if (managerPersonioId !== null && wanted === null) broken.push(user.personioId);
    if (wanted !== (user.managerUserId ?? null)) changes.push({ user, managerUserId: wanted });
  }
  await forEachLimited(changes, WRITE_CONCURRENCY, async ({ user, managerUserId }) => {
    await deps.users.setManagerLink(tenantId, user.userId, user.managerPersonioId ?? null, managerUserId);
  });
  if (broken.length > 0) {
    findings.push({
      code: 'broken_manager_links',
      message: `${broken.length} user(s) have a supervisor who is not among the imported users (Personio ids ${idSample(broken)}).`,
    });
  }
}
