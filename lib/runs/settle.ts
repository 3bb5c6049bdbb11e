import type { ConnectionStore } from '../tenants/connections.js';
import { applyApproval, supersedingRun } from './approve.js';
import { finalizeRun, type FinalizeDeps } from './finalize.js';
import { leaseExpired, leaseUntil, runLeases } from './lease.js';
import { isFinalRunStatus, type Run } from './run.js';

export interface SettleDeps extends FinalizeDeps {
  connections: ConnectionStore;
}

export interface SettleOptions {
  /**
   * Only what is quick (failing a stalled run, extending a lease): for callers inside an HTTP request's 25 s. A
   * finalization or approval to take over is left to the sweeper, and the run keeps holding the tenant meanwhile.
   */
  light?: boolean;
  onSettled?: (outcome: SettleOutcome) => void;
}

/**
 * Moves on a run whose lease has expired, whoever notices it first (the tenant's next fetch, the API, the sweeper):
 * - `fetching`: failed with `run_stalled` (it deactivates nobody; messages that land later still apply their data);
 * - `processing`: finished if every message is in (only the completion was missing), given more time if messages
 *   are still being processed (a long backlog is not a stall), failed with `run_stalled` otherwise;
 * - `finalizing`: claimed again and finished;
 * - `approving`: claimed again and finished, unless a newer run has superseded it or the tenant was disconnected
 *   meanwhile (then it goes back to `held`, with what it had already deactivated).
 * A run that is final or within its lease is left alone. Answers the run as it is afterwards.
 */
export async function settleRun(deps: SettleDeps, run: Run, options: SettleOptions = {}): Promise<Run> {
  const now = deps.now();
  if (isFinalRunStatus(run.status) || !leaseExpired(run.leaseExpiresAt, now)) return run;
  switch (run.status) {
    case 'fetching':
      await failStalled(deps, run, now);
      break;
    case 'processing': {
      const progress = await deps.runs.progress(run.tenantId, run.runId);
      if (progress.complete) {
        if (!options.light) await finalizeRun(deps, run.tenantId, run.runId, { late: true });
      } else if (progress.lastProgressAt !== undefined && progress.lastProgressAt > now.getTime() - runLeases.progressGraceMs) {
        await deps.runs.extendLease(run.tenantId, run.runId, 'processing', leaseUntil(now, runLeases.progressGraceMs));
      } else {
        await failStalled(deps, run, now);
      }
      break;
    }
    case 'finalizing':
      if (!options.light) await finalizeRun(deps, run.tenantId, run.runId);
      break;
    case 'approving':
      if (!options.light) await settleApproving(deps, run, now);
      break;
  }
  const after = (await deps.runs.get(run.tenantId, run.runId)) ?? run;
  if (after.status === 'failed') options.onSettled?.('stalled');
  else if (isFinalRunStatus(after.status)) options.onSettled?.(after.status === 'held' ? 'held' : 'completed');
  return after;
}

/** What settling a run came to: failed as stalled, or finished (a stalled finalization or approval taken over). */
export type SettleOutcome = 'stalled' | 'completed' | 'held';

async function failStalled(deps: SettleDeps, run: Run, now: Date): Promise<void> {
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
}

/** The admin's decision is carried out, unless the tenant's picture has moved on since (then it is not applied). */
async function settleApproving(deps: SettleDeps, run: Run, now: Date): Promise<void> {
  const connection = await deps.connections.get(run.tenantId);
  const newer = await supersedingRun(deps, run);
  if (newer || !connection || connection.status === 'disconnected') {
    const why = newer ? `run ${newer.runId} saw Personio since` : 'the tenant was disconnected';
    await deps.runs.abandonApproval(run.tenantId, run.runId, now, {
      code: 'approval_not_applied',
      message: `The approval stopped before it finished, and was not finished because ${why}; the users it had already deactivated stay deactivated.`,
    });
    return;
  }
  if (await deps.runs.claimApproval(run.tenantId, run.runId, now, leaseUntil(now, runLeases.approvingMs))) await applyApproval(deps, run);
}
