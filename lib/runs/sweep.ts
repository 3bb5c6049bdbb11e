import { forEachLimited } from '../util/concurrency.js';
import { errorName } from '../util/errors.js';
import { isFinalRunStatus } from './run.js';
import { settleRun, type SettleOutcome } from './settle.js';
import { settleApproval, settleTenant, type TenantLockDeps } from './tenant-lock.js';

export interface SweepOutcome {
  tenants: number;
  /** Tenants whose settling threw (the next sweep tries again). */
  failed: number;
  /** Which tenants, and the error's name (never its message: it could quote a stored value). */
  failures: { tenantId: string; error: string }[];
  /** What the sweep did to full runs: failed as stalled, or finished. */
  settled: Record<SettleOutcome, number>;
  /** The same for delta runs (webhooks), counted apart: their outcomes have metrics of their own. */
  settledDeltas: Record<SettleOutcome, number>;
}

/** Tenants settled at once: each costs a few small reads, and a stalled finalization a run's worth of writes. */
const CONCURRENCY = 8;

/**
 * Visits every tenant that points at a current run or a run being approved, and settles it (lib/runs/settle.ts): a run whose lease expired is
 * failed or finished, and a tenant whose run is final is freed. This is what cleans up a tenant nobody else comes for
 * (no schedule, nobody clicking "import now"). One tenant's error does not stop the others.
 */
export async function sweepStalledRuns(deps: TenantLockDeps): Promise<SweepOutcome> {
  const tenants = await deps.connections.withOpenRuns();
  const failures: SweepOutcome['failures'] = [];
  const settled: Record<SettleOutcome, number> = { stalled: 0, completed: 0, held: 0 };
  const count = (outcome: SettleOutcome) => void settled[outcome]++;
  await forEachLimited(tenants, CONCURRENCY, async ({ tenantId, activeRunId, lockExpiresAt, approvingRunId }) => {
    try {
      if (activeRunId) await settleTenant(deps, tenantId, activeRunId, lockExpiresAt, { onSettled: count });
      if (approvingRunId) await settleApproval(deps, tenantId, approvingRunId, { onSettled: count });
    } catch (error) {
      failures.push({ tenantId, error: errorName(error) });
    }
  });
  // Delta runs hold no tenant lock: they are found through their own registry, settled by the same rules (leases), and
  // leave the lock alone.
  const settledDeltas: Record<SettleOutcome, number> = { stalled: 0, completed: 0, held: 0 };
  const countDelta = (outcome: SettleOutcome) => void settledDeltas[outcome]++;
  await forEachLimited(await deps.runs.openDeltas.list(), CONCURRENCY, async ({ tenantId, runId }) => {
    try {
      const run = await deps.runs.get(tenantId, runId);
      const settled = run ? await settleRun(deps, run, { onSettled: countDelta }) : undefined;
      if (!settled || isFinalRunStatus(settled.status)) await deps.runs.openDeltas.retire(tenantId, runId, deps.now());
    } catch (error) {
      failures.push({ tenantId, error: errorName(error) });
    }
  });
  return { tenants: tenants.length, failed: failures.length, failures, settled, settledDeltas };
}
