import { InvokeError } from '../imports/invoker.js';
import { approveRun, RunError } from '../runs/approve.js';
import { newRunId, toReport, type RunReport } from '../runs/run.js';
import { settleRun } from '../runs/settle.js';
import { claimTenant } from '../runs/tenant-lock.js';
import type { Who } from './caller.js';
import { requireConnection } from './connection.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';

export interface ImportAccepted {
  tenantId: string;
  runId: string;
  status: 'accepted';
}

/**
 * Starts an import now: claims the tenant for a run id chosen here (one run per tenant until it is final; a run that
 * stalled is settled first), then invokes the fetch asynchronously with it, so the caller can follow the run at once.
 */
export async function startImport(deps: ConnectDeps, tenantId: string, who: Who): Promise<ImportAccepted> {
  await requireConnection(deps, tenantId);
  // The operators' kill switch (lib/tenants/kill-switch.ts); the operator's note is theirs, not the customer's.
  if (await deps.connections.importsPause())
    throw new ConnectError(
      'imports_paused',
      'Imports are paused for every tenant by Dado’s operators (for example during a Personio incident); nothing was started. Scheduled imports resume on their own once the pause ends; try an import now again later.',
    );
  const runId = newRunId(deps.now());
  // Light: inside the API's time; a stalled completion to take over is the sweeper's (the run holds the tenant until then).
  const claim = await claimTenant(deps, tenantId, runId, { light: true });
  if (!claim.claimed) {
    const running = claim.runningRunId;
    if (running === undefined)
      throw new ConnectError(
        'import_unavailable',
        'The import could not be started because the connection changed meanwhile; nothing was started. Try again in a minute.',
      );
    throw new ConnectError(
      'import_running',
      `An import of tenant ${tenantId} is running (run ${running}); follow it with GET /tenants/${tenantId}/personio/imports/${running} and start another once it has finished.`,
      { runId: running },
    );
  }
  try {
    await deps.imports.invokeAsync({ tenantId, runId });
  } catch (error) {
    await deps.connections.releaseRun(tenantId, runId);
    if (error instanceof InvokeError)
      throw new ConnectError('import_unavailable', 'The import could not be started (AWS Lambda is unavailable); nothing was started. Try again in a minute.');
    throw error;
  }
  await deps.audit.record(tenantId, who, { action: 'import_started', details: { runId } }, deps.now());
  return { tenantId, runId, status: 'accepted' };
}

/**
 * The run report; a run of another tenant is simply not found (runs are keyed by tenant). A run whose lease expired
 * is settled first, so the answer never shows a run as running after it has stalled.
 */
export async function getImport(deps: ConnectDeps, tenantId: string, runId: string): Promise<RunReport> {
  const run = await deps.runs.get(tenantId, runId);
  if (!run) throw runNotFound(tenantId, runId);
  return toReport(await deps.runs.withLiveCounts(await settleRun(deps, run, { light: true })), deps.now());
}

/** Applies a held run of a connected tenant: deactivates exactly the users it held, minus any changed since. */
export async function approveImport(deps: ConnectDeps, tenantId: string, runId: string, who: Who): Promise<RunReport> {
  await requireConnection(deps, tenantId);
  let report: RunReport;
  try {
    report = await approveRun(deps, tenantId, runId);
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    if (error.code === 'run_not_found') throw runNotFound(tenantId, runId);
    if (error.code === 'import_running' && error.runId) throw new ConnectError(error.code, error.message, { runId: error.runId });
    throw new ConnectError(error.code, error.message);
  }
  await deps.audit.record(tenantId, who, { action: 'run_approved', details: { runId, deactivated: report.deactivated } }, deps.now());
  return report;
}

const runNotFound = (tenantId: string, runId: string) =>
  new ConnectError(
    'run_not_found',
    `Tenant ${tenantId} has no run ${runId}. A run started a moment ago appears once its fetch begins; list recent runs with GET /tenants/${tenantId}/personio.`,
  );
