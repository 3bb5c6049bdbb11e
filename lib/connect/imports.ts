import { InvokeError } from '../imports/invoker.js';
import { approveRun, RunError } from '../runs/approve.js';
import { newRunId, toReport, type RunReport } from '../runs/run.js';
import { requireConnection } from './connection.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';

export interface ImportAccepted {
  tenantId: string;
  runId: string;
  status: 'accepted';
}

/**
 * Starts an import now: checks that none is running (the fetch's lock on the connection), then invokes the
 * fetch asynchronously with a run id chosen here, so the caller can follow the run at once.
 */
export async function startImport(deps: ConnectDeps, tenantId: string): Promise<ImportAccepted> {
  const connection = await requireConnection(deps, tenantId);
  const now = deps.now();
  if (connection.activeRunId && (connection.lockExpiresAt ?? 0) > now.getTime()) {
    throw new ConnectError(
      'import_running',
      `An import of tenant ${tenantId} is running (run ${connection.activeRunId}); follow it with GET /tenants/${tenantId}/personio/imports/${connection.activeRunId} and start another once it has finished.`,
      { runId: connection.activeRunId },
    );
  }
  const runId = newRunId(now);
  try {
    await deps.imports.invokeAsync({ tenantId, runId });
  } catch (error) {
    if (error instanceof InvokeError) throw new ConnectError('import_unavailable', 'The import could not be started (AWS Lambda is unavailable); nothing was started. Try again in a minute.');
    throw error;
  }
  return { tenantId, runId, status: 'accepted' };
}

/** The run report; a run of another tenant is simply not found (runs are keyed by tenant). */
export async function getImport(deps: Pick<ConnectDeps, 'runs' | 'now'>, tenantId: string, runId: string): Promise<RunReport> {
  const run = await deps.runs.get(tenantId, runId);
  if (!run) throw runNotFound(tenantId, runId);
  return toReport(run, deps.now());
}

/** Applies a held run: deactivates the users it found gone from Personio. */
export async function approveImport(deps: ConnectDeps, tenantId: string, runId: string): Promise<RunReport> {
  try {
    return await approveRun(deps, tenantId, runId);
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    if (error.code === 'run_not_found') throw runNotFound(tenantId, runId);
    throw new ConnectError(error.code, error.message);
  }
}

const runNotFound = (tenantId: string, runId: string) =>
  new ConnectError('run_not_found', `Tenant ${tenantId} has no run ${runId}. A run started a moment ago appears once its fetch begins; list recent runs with GET /tenants/${tenantId}/personio.`);
