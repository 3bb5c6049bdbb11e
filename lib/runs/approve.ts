import { CodedError } from '../util/errors.js';
import { deactivateAll } from './deactivation.js';
import type { FinalizeDeps } from './finalize.js';
import { leaseExpired, leaseUntil, runLeases } from './lease.js';
import type { ConnectionStore } from '../tenants/connections.js';
import { claimTenant } from './tenant-lock.js';
import { isFinalRunStatus, toReport, type Run, type RunReport } from './run.js';

export type RunErrorCode = 'run_not_found' | 'run_not_held' | 'run_superseded' | 'import_running';

export class RunError extends CodedError<RunErrorCode> {
  override readonly name = 'RunError';
  constructor(
    code: RunErrorCode,
    message: string,
    /** For import_running: the run that holds the tenant. */
    readonly runId?: string,
  ) {
    super(code, message);
  }
}

/**
 * Applies a held run's decision: deactivates exactly the users stored when it was held, minus any a newer import has
 * changed since (the write's condition checks each). Nothing here depends on markers, which expire. A newer run that
 * completed or was held, or a newer failed run that processed any employee, has a more recent picture of Personio:
 * it supersedes this one, and approving answers `run_superseded`. The caller checks that the tenant is connected.
 */
export async function approveRun(deps: FinalizeDeps & { connections: ConnectionStore }, tenantId: string, runId: string): Promise<RunReport> {
  const run = await deps.runs.get(tenantId, runId);
  if (!run) throw new RunError('run_not_found', `Run ${runId} of tenant ${tenantId} does not exist.`);
  const now = deps.now();
  // An approval whose caller died (lease expired) can be given again.
  const retakable = run.status === 'approving' && leaseExpired(run.leaseExpiresAt, now);
  if (run.status !== 'held' && !retakable) {
    throw new RunError(
      'run_not_held',
      run.status === 'approving' ? `Run ${runId} is being approved.` : `Run ${runId} is ${run.status}, not held: there is nothing to approve.`,
    );
  }
  const newer = await supersedingRun(deps, run);
  if (newer) {
    // Decided by a newer run that is final: expiring from now, if no completed or held run retired it already (one that
    // failed did not). A newer run still going may yet fail before it processes anyone, and then this run is the
    // latest picture again: its pending list must stay for a later approval.
    if (isFinalRunStatus(newer.status)) await deps.runs.retireHeld(tenantId, runId, now);
    throw new RunError(
      'run_superseded',
      `Run ${runId} was superseded by run ${newer.runId}, which saw Personio since; its pending deactivations no longer apply.`,
    );
  }
  // No run starts while the approval deactivates, and none may be running: its picture would be newer.
  const claim = await claimTenant(deps, tenantId, runId, { light: true });
  if (!claim.claimed) {
    throw new RunError(
      'import_running',
      `An import of tenant ${tenantId} is running (run ${claim.runningRunId ?? 'unknown'}); it will supersede run ${runId} or hold again. Look at its outcome first.`,
      claim.runningRunId,
    );
  }
  // Noted before the claim: if this caller dies after claiming, the sweeper finds the approval and finishes it.
  await deps.connections.noteApproval(tenantId, runId);
  if (!(await deps.runs.claimApproval(tenantId, runId, now, leaseUntil(now, runLeases.approvingMs)))) {
    throw new RunError('run_not_held', `Run ${runId} is being approved or was approved already.`);
  }
  const finished = await applyApproval(deps, run);
  await deps.connections.clearApproval(tenantId, runId);
  return toReport(finished, deps.now());
}

/**
 * Deactivates the held run's stored list and completes it: also how a stalled approval is finished (the admin's
 * decision was given). The caller has claimed the approval.
 */
export async function applyApproval(deps: FinalizeDeps, run: Run): Promise<Run> {
  const pending = await deps.runs.pending(run.tenantId, run.runId);
  const stored = await deps.users.getStored(
    run.tenantId,
    pending.map((p) => p.userId),
  );
  // Exactly as held: a user whose content changed since (a newer import wrote it) is not the user the admin approved.
  const unchanged = pending.flatMap((p) => {
    const user = stored.get(p.userId);
    return user?.active && user.contentHash === p.contentHash ? [user] : [];
  });
  // An approval taken over from a caller that died after deactivating some: those count as this approval's too.
  const earlier = pending.filter((p) => {
    const user = stored.get(p.userId);
    return user && !user.active && user.deactivatedInRun === run.runId;
  }).length;
  const deactivated = (await deactivateAll(deps, run, unchanged)) + earlier;
  const left = pending.length - deactivated;
  const finished = await deps.runs.finish(run.tenantId, run.runId, {
    from: 'approving',
    status: 'completed',
    findings: [
      ...run.findings,
      {
        code: 'deactivation_approved',
        message: `Approved: ${deactivated} of the ${pending.length} user(s) held were deactivated${left > 0 ? `; ${left} had changed since (a newer import wrote them, or they were already inactive) and were left as they are` : ''}.`,
      },
    ],
    deactivated,
    // The run's own duration ends when it was held, not when someone approved it; its retention counts from the approval.
    at: run.finishedAt ? new Date(run.finishedAt) : deps.now(),
    decidedAt: deps.now(),
  });
  // Decided: nothing reads the pending list any more (a caller that dies here leaves it to the next run's completion).
  await deps.runs.retirePending(run.tenantId, run.runId, deps.now());
  return finished;
}

/**
 * A newer run with a more recent picture of Personio: a full run that completed, was held, or processed any employee.
 * A delta run never supersedes: it saw only the employees webhooks named. The users it wrote are spared by the approval
 * itself (their content changed, or their version is newer than the held run's start: the deactivation's condition).
 */
export async function supersedingRun(deps: Pick<FinalizeDeps, 'runs'>, run: Run): Promise<Run | undefined> {
  const newer = (await deps.runs.newerThan(run.tenantId, run.runId)).filter((r) => r.startedAt > run.startedAt && r.mode !== 'delta');
  for (const candidate of newer) {
    if (candidate.status !== 'failed') return candidate;
    if (await deps.runs.processedAny(run.tenantId, candidate.runId)) return candidate;
  }
  return undefined;
}
