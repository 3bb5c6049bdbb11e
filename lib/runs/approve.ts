import { deactivate, missingUsers, seenIds, type FinalizeDeps } from './finalize.js';
import { CodedError } from '../util/errors.js';
import { toReport, type RunReport } from './run.js';

export type RunErrorCode = 'run_not_found' | 'run_not_held' | 'run_superseded';

export class RunError extends CodedError<RunErrorCode> {
  override readonly name = 'RunError';
}

/**
 * Applies a held run: deactivates the users it did not see, as it would have without the guard. A
 * newer run that did not fail supersedes it (the tenant's data has moved on, so its pending
 * deactivations are stale): approving it then fails with `run_superseded`.
 */
export async function approveRun(deps: FinalizeDeps, tenantId: string, runId: string): Promise<RunReport> {
  const run = await deps.runs.get(tenantId, runId);
  if (!run) throw new RunError('run_not_found', `Run ${runId} of tenant ${tenantId} does not exist.`);
  if (run.status !== 'held') throw new RunError('run_not_held', `Run ${runId} is ${run.status}, not held: there is nothing to approve.`);
  const newer = (await deps.runs.list(tenantId, 20)).find((r) => r.runId !== runId && r.startedAt >= run.startedAt && r.status !== 'failed');
  if (newer) throw new RunError('run_superseded', `Run ${runId} was superseded by run ${newer.runId}; its pending deactivations no longer apply.`);
  if (!(await deps.runs.claimApproval(tenantId, runId))) throw new RunError('run_not_held', `Run ${runId} is being approved or was approved already.`);

  const { gone } = missingUsers(await deps.users.list(tenantId), seenIds(await deps.runs.markers(tenantId, runId)));
  await deactivate(deps, tenantId, gone);
  const finished = await deps.runs.finish(tenantId, runId, {
    from: 'approving',
    status: 'completed',
    findings: [...run.findings, { code: 'deactivation_approved', message: `Approved: ${gone.length} user(s) no longer in Personio were deactivated.` }],
    deactivated: gone.length,
    // The run's own duration ends when it was held, not when someone approved it.
    at: run.finishedAt ? new Date(run.finishedAt) : deps.now(),
  });
  return toReport(finished, deps.now());
}
