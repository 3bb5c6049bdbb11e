import { forEachLimited } from '../util/concurrency.js';
import { settleApproval, settleTenant, type TenantLockDeps } from './tenant-lock.js';

export interface SweepOutcome {
  tenants: number;
  failed: number;
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
  let failed = 0;
  await forEachLimited(tenants, CONCURRENCY, async ({ tenantId, activeRunId, lockExpiresAt, approvingRunId }) => {
    try {
      if (activeRunId) await settleTenant(deps, tenantId, activeRunId, lockExpiresAt);
      if (approvingRunId) await settleApproval(deps, tenantId, approvingRunId);
    } catch {
      failed++;
    }
  });
  return { tenants: tenants.length, failed };
}
