import { applyApproval } from './approve.js';
import { finalizeRun, type FinalizeDeps } from './finalize.js';
import { leaseExpired, leaseUntil, runLeases } from './lease.js';
import { isFinalRunStatus, type Run } from './run.js';

/**
 * Moves on a run whose lease has expired, whoever notices it first (the tenant's next fetch, the API, the sweeper):
 * a stalled `fetching` or `processing` run is failed with `run_stalled` (it deactivates nobody; messages that land
 * later still apply their data), a stalled `finalizing` or `approving` run is claimed again and finished. A run that
 * is final or still within its lease is left alone. Answers the run as it is afterwards.
 */
export async function settleRun(deps: FinalizeDeps, run: Run, onSettled?: (outcome: SettleOutcome) => void): Promise<Run> {
  const now = deps.now();
  if (isFinalRunStatus(run.status) || !leaseExpired(run.leaseExpiresAt, now)) return run;
  switch (run.status) {
    case 'fetching':
    case 'processing':
      await deps.runs.fail(
        run.tenantId,
        run.runId,
        {
          code: 'run_stalled',
          message: `The run stalled while ${run.status} (${run.status === 'fetching' ? 'its fetch was stopped before it finished' : 'a message of it was not processed in time, or went to the dead-letter queue'}) and was failed; nobody was deactivated. The next import starts afresh.`,
        },
        {},
        now,
        { stalledBefore: now },
      );
      break;
    case 'finalizing':
      await finalizeRun(deps, run.tenantId, run.runId);
      break;
    case 'approving':
      if (await deps.runs.claimApproval(run.tenantId, run.runId, now, leaseUntil(now, runLeases.approvingMs))) await applyApproval(deps, run);
      break;
  }
  const after = (await deps.runs.get(run.tenantId, run.runId)) ?? run;
  if (after.status === 'failed') onSettled?.('stalled');
  else if (isFinalRunStatus(after.status)) onSettled?.(after.status === 'held' ? 'held' : 'completed');
  return after;
}

/** What settling a run came to: failed as stalled, or finished (a stalled finalization or approval taken over). */
export type SettleOutcome = 'stalled' | 'completed' | 'held';
