import { forEachLimited } from '../util/concurrency.js';
import type { UserStore } from '../users/store.js';
import type { StoredUser } from '../users/user.js';
import { deactivateAll, decideDeactivations, type Decision } from './deactivation.js';
import { finalizeDelta } from './finalize-delta.js';
import { duplicateAddressFindings, failureFindings, idSample, problemFindings } from './findings.js';
import { leaseUntil, runLeases } from './lease.js';
import { retireSupersededRuns } from './retention.js';
import type { Finding, Run } from './run.js';
import { sumCounts, type MessageMarker, type RunStore } from './store.js';

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
 * Finishes a run whose messages are all processed, if this caller wins the claim: links managers, deactivates users
 * no longer in Personio (never deletes), and writes the report. Safe to call from every worker and from the fetch;
 * only one does the work. A run that is final, failed, or whose lease expired is refused by the claim: its messages
 * still apply their data, but it decides nothing.
 */
export async function finalizeRun(
  deps: FinalizeDeps,
  tenantId: string,
  runId: string,
  options: { late?: boolean } = {},
): Promise<'completed' | 'held' | undefined> {
  const now = deps.now();
  if (!(await deps.runs.claimFinalization(tenantId, runId, now, leaseUntil(now, runLeases.finalizingMs), options))) return undefined;
  const run = await deps.runs.get(tenantId, runId);
  if (!run) return undefined;

  const markers = await deps.runs.markers(tenantId, runId);
  // A completion finished very late (a run settled long after it stalled) may find its markers expired: without them
  // it cannot tell who it saw, so it decides nothing.
  if (run.messagesSent !== undefined && markers.length < run.messagesSent) {
    await deps.runs.fail(
      tenantId,
      runId,
      {
        code: 'run_stalled',
        message:
          'The run was settled too late to finish: the record of what its messages saw has expired. Nobody was deactivated; the next import starts afresh.',
      },
      {},
      deps.now(),
      { claimedFinalization: true },
    );
    return undefined;
  }
  // A delta run judges only whom Personio answered 404 for, never by absence, and reads no more than the users it wrote.
  if (run.mode === 'delta') return finalizeDelta(deps, run, markers);
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
  findings.push(...duplicateAddressFindings(users));

  const decision = decideDeactivations(deps, run, users, markers, fetchFailures);
  findings.push(...decision.findings);
  // A completion taken over from a worker that died after deactivating some: those count as this run's too.
  const earlier = decision.held ? 0 : users.filter((u) => !u.active && u.deactivatedInRun === runId).length;
  const deactivated = (await holdOrDeactivate(deps, run, decision, findings, 'missing from Personio')) + earlier;
  // Employees whose address was held by a user the run might find gone: now every leaver is known (and deactivated,
  // unless the run is held), so the address passes to them or is a genuine conflict.
  await applyDeferred(deps, run, markers, counts, findings);
  const status = decision.held ? 'held' : 'completed';
  const finished = await deps.runs.finish(tenantId, runId, {
    from: 'finalizing',
    status,
    findings,
    deactivated,
    at: deps.now(),
    counts,
    ...(decision.held ? { pendingDeactivations: decision.gone.length } : {}),
  });
  // This run saw Personio after every older held run: they are superseded, so decided, and start expiring.
  await retireSupersededRuns(deps.runs, finished, deps.now());
  return status;
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

/**
 * Writes the employees a run's messages deferred (their address was held by a user the run might find gone), once the
 * run has decided who is gone, adding their outcomes to the run's counts and findings. A delta run's writes touch what
 * they read (lib/users/employee-upsert.ts).
 */
export async function applyDeferred(
  deps: Pick<FinalizeDeps, 'users'>,
  run: Run,
  markers: MessageMarker[],
  counts: ReturnType<typeof sumCounts>,
  findings: Finding[],
): Promise<void> {
  const deferred = markers.flatMap((m) => m.deferred);
  if (deferred.length === 0) return;
  const source = { runId: run.runId, fetchedAt: run.startedAt, final: true, ...(run.mode === 'delta' ? { touch: true } : {}) };
  const late = await deps.users.upsertMany(run.tenantId, deferred, source);
  counts.created += late.created;
  counts.updated += late.updated;
  counts.unchanged += late.unchanged;
  counts.failed += late.failures.length;
  counts.dynamoWriteRequests += late.writeRequests;
  findings.push(...failureFindings(late.failures), ...problemFindings(late.problems));
}

/**
 * Applies a run's decision: a held run stores its exact pending list (approval applies it later); otherwise the users
 * are deactivated, each under the write's condition, and those a newer import wrote meanwhile are reported as skipped.
 * Returns how many this call deactivated.
 */
export async function holdOrDeactivate(deps: FinalizeDeps, run: Run, decision: Decision, findings: Finding[], why: string): Promise<number> {
  if (decision.held) {
    await deps.runs.savePending(
      run.tenantId,
      run.runId,
      decision.gone.map((u) => ({ userId: u.userId, contentHash: u.contentHash })),
    );
    return 0;
  }
  const deactivated = await deactivateAll(deps, run, decision.gone);
  const skipped = decision.gone.length - deactivated;
  if (skipped > 0)
    findings.push({
      code: 'deactivation_skipped',
      message: `${skipped} user(s) ${why} were left active: a newer import wrote them after this run began.`,
    });
  return deactivated;
}
