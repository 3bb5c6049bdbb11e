import { leaseUntil, runLeases } from './lease.js';
import { blocksTenant } from './run.js';
import { settleRun, type SettleDeps, type SettleOptions } from './settle.js';

export type TenantLockDeps = SettleDeps;

export type TenantClaim = { claimed: true } | { claimed: false; runningRunId: string | undefined };

/**
 * One run per tenant at a time, from its fetch until it is final: the connection item points at the tenant's current
 * run, and a new run may start only when that run is final (or held: a held run does not block, a newer run
 * supersedes it). The pointer is cleared lazily by whoever comes next, so a worker finishing a run never has to touch
 * the connection; a run that stalled is settled first (lib/runs/settle.ts), so a killed fetch or a message in the DLQ
 * never blocks a tenant for longer than its lease.
 *
 * `runId` may already hold the claim: "import now" claims it before invoking the fetch, which claims it again; an
 * approval claims it for the held run it applies, so no run starts while users are being deactivated.
 */
export async function claimTenant(deps: TenantLockDeps, tenantId: string, runId: string, options: SettleOptions = {}): Promise<TenantClaim> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const now = deps.now();
    const claim = await deps.connections.claimRun(tenantId, runId, leaseUntil(now, runLeases.queuedMs));
    if (claim.claimed) return claim;
    const holder = claim.heldBy;
    if (holder === undefined) return { claimed: false, runningRunId: undefined };
    if (await holds(deps, tenantId, holder, claim.lockExpiresAt, options)) return { claimed: false, runningRunId: holder };
    await deps.connections.releaseRun(tenantId, holder);
  }
  return { claimed: false, runningRunId: undefined };
}

/** Settles the tenant's current run if it stalled, and frees the tenant once that run no longer holds it. */
export async function settleTenant(
  deps: TenantLockDeps,
  tenantId: string,
  runId: string,
  lockExpiresAt: number | undefined,
  options: SettleOptions = {},
): Promise<void> {
  if (!(await holds(deps, tenantId, runId, lockExpiresAt, options))) await deps.connections.releaseRun(tenantId, runId);
}

async function holds(deps: TenantLockDeps, tenantId: string, runId: string, lockExpiresAt: number | undefined, options: SettleOptions): Promise<boolean> {
  const run = await deps.runs.get(tenantId, runId);
  // Accepted, fetch not started yet: the claim holds until it expires.
  if (!run) return (lockExpiresAt ?? 0) >= deps.now().getTime();
  const settled = await settleRun(deps, run, options);
  return blocksTenant(settled.status);
}

/** Finishes an approval whose caller died once its lease expired, and forgets it once the run is final. */
export async function settleApproval(deps: TenantLockDeps, tenantId: string, runId: string, options: SettleOptions = {}): Promise<void> {
  const run = await deps.runs.get(tenantId, runId);
  const settled = run ? await settleRun(deps, run, options) : undefined;
  if (settled?.status !== 'approving') await deps.connections.clearApproval(tenantId, runId);
}
