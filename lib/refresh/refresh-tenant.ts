import { CredentialsError, type CredentialsStore } from '../credentials/store.js';
import { projection } from '../mapping/mapping.js';
import { BudgetError, type BudgetLease } from '../personio/budget.js';
import { PersonioClient, type PersonioClientOptions } from '../personio/client.js';
import { compactEmployee, employeeId, type PersonioEmployee } from '../personio/employee.js';
import { PersonioError } from '../personio/errors.js';
import { MessagePacker } from '../queue/packer.js';
import type { QueueSender } from '../queue/sender.js';
import { finalizeRun, type FinalizeDeps } from '../runs/finalize.js';
import { leaseUntil, runLeases } from '../runs/lease.js';
import { boundedFinding, newRunId, type Finding } from '../runs/run.js';
import type { ConnectionStore } from '../tenants/connections.js';
import { forEachLimited } from '../util/concurrency.js';
import { errorName } from '../util/errors.js';

export interface RefreshDeps extends FinalizeDeps {
  connections: ConnectionStore;
  credentials: CredentialsStore;
  createSender: () => QueueSender;
  personio: Pick<PersonioClientOptions, 'baseUrl' | 'appId'> & Partial<Pick<PersonioClientOptions, 'fetch' | 'timeoutMs'>>;
}

/** Why changes were acknowledged without a run. */
export type SkipReason = 'imports_paused' | 'not_connected' | 'tenant_paused';

export type RefreshOutcome =
  | { status: 'skipped'; reason: SkipReason }
  | {
      status: 'refreshed';
      runId: string;
      employeesFetched: number;
      /** Employees Personio answered 404 for: the run's `gone` list. */
      gone: number;
      messagesSent: number;
      personioRequests: number;
      personio429: number;
      finalStatus: 'completed' | 'held' | undefined;
    }
  /** Nobody was deactivated; the changes are to be delivered again (SQS redelivers them, its DLQ takes poison). */
  | { status: 'failed'; runId: string; failure: Finding; personioRequests: number; personio429: number };

/** Kept back from the deadline to close the run after the reads. */
const CLOSE_MARGIN_MS = 15_000;
/** Reads in flight: the limiter paces them; a few keep its slots busy despite Personio's latency. */
const READ_CONCURRENCY = 4;

/**
 * A delta run: re-reads the employees Personio's webhooks named (v1 GET /company/employees/{id}, the tenant's projection
 * kept), hands them to the import queue exactly as a full fetch does (same messages, same worker, same upserts, versioned
 * by the run's start), and closes the fetch part. An employee Personio answers 404 for was deleted there: its id goes to
 * the run's `gone` list, which its finalization deactivates (never deletes) under the guard. It claims no tenant lock
 * (it may run beside a full run and other delta runs: every write is versioned), but it shares the tenant's Personio
 * budget (lib/personio/budget.ts) with them.
 */
export async function refreshTenant(deps: RefreshDeps, tenantId: string, personIds: readonly number[], deadline: number): Promise<RefreshOutcome> {
  const [importsPause, connection] = await Promise.all([deps.connections.importsPause(), deps.connections.get(tenantId)]);
  // Skipped changes are acknowledged, not retried: the tenant's next full reconciliation reads every employee anyway.
  if (importsPause) return { status: 'skipped', reason: 'imports_paused' };
  if (!connection || connection.status === 'disconnected') return { status: 'skipped', reason: 'not_connected' };
  if (connection.paused) return { status: 'skipped', reason: 'tenant_paused' };

  const ids = [...new Set(personIds)];
  const startedAt = deps.now();
  const runId = newRunId(startedAt);
  await deps.runs.create({
    tenantId,
    runId,
    mode: 'delta',
    trigger: 'webhook',
    mapping: connection.mapping,
    startedAt,
    leaseExpiresAt: deadline + runLeases.fetchMarginMs,
  });

  const stats = { personioRequests: 0, personio429: 0, employeesFetched: 0 };
  const gone: number[] = [];
  let client: PersonioClient | undefined;
  let lease: BudgetLease | undefined;
  let sent: number;
  let complete: boolean;
  try {
    const credentials = await deps.credentials.get(tenantId);
    lease = await deps.runs.budget.acquire(tenantId, { holder: runId, waitUntil: deadline - CLOSE_MARGIN_MS, deadline });
    const reader = new PersonioClient({ ...deps.personio, credentials, deadline: deadline - CLOSE_MARGIN_MS, limiter: lease.limiter });
    client = reader;
    const packer = new MessagePacker({ tenantId, runId, fetchedAt: startedAt.toISOString(), touch: true });
    const sender = deps.createSender();
    const keep = new Set(projection(connection.mapping));
    // Handed on one at a time, in the order they arrive, as the pager does: the packer and the sender need no locking.
    let delivering: Promise<void> = Promise.resolve();
    await forEachLimited(ids, READ_CONCURRENCY, async (id) => {
      const employee = await readEmployee(reader, id, keep);
      if (!employee) {
        gone.push(id);
        return;
      }
      stats.employeesFetched++;
      delivering = delivering.then(() => sender.add(packer.add(employee)));
    }).finally(() => lease?.release());
    await delivering;
    await sender.add(packer.flush());
    await sender.flush();
    Object.assign(stats, { personioRequests: reader.stats.requests, personio429: reader.stats.rateLimited });
    sent = sender.sent;
    ({ complete } = await deps.runs.closeFetch(tenantId, runId, {
      messagesSent: sent,
      ...stats,
      personioTotal: undefined,
      findings: [],
      rejected: packer.rejected.map((r) => ({ personioId: r.personioId, reason: r.reason })),
      gone: gone.sort((a, b) => a - b),
      at: deps.now(),
      leaseExpiresAt: leaseUntil(deps.now(), runLeases.processingMs),
    }));
  } catch (error) {
    await lease?.release();
    if (client) Object.assign(stats, { personioRequests: client.stats.requests, personio429: client.stats.rateLimited });
    const failure = boundedFinding(describeFailure(error));
    await deps.runs.fail(tenantId, runId, failure, stats, deps.now());
    return { status: 'failed', runId, failure, personioRequests: stats.personioRequests, personio429: stats.personio429 };
  }
  // The workers may have processed every message before the fetch part closed (or there was none): finishing is ours.
  const finalStatus = complete ? await finalizeRun(deps, tenantId, runId) : undefined;
  return { status: 'refreshed', runId, ...stats, gone: gone.length, messagesSent: sent, finalStatus };
}

/** The employee with only the attributes the tenant's mapping reads (as a full fetch's projection); undefined on 404. */
async function readEmployee(client: PersonioClient, id: number, keep: ReadonlySet<string>): Promise<PersonioEmployee | undefined> {
  let employee: PersonioEmployee;
  try {
    employee = compactEmployee(await client.getEmployee(id));
  } catch (error) {
    if (error instanceof PersonioError && error.code === 'not_found') return undefined;
    throw error;
  }
  // The by-id endpoint takes no projection: what the mapping does not read is dropped here, before it reaches a message.
  const projected: PersonioEmployee = {};
  for (const [key, attribute] of Object.entries(employee)) if (keep.has(key)) projected[key] = attribute;
  // Personio answering with another employee than asked for would be its bug; trusting it could write the wrong user.
  if (employeeId(projected) !== id) throw new PersonioError('bad_response', `Personio answered another employee than ${id} on /v1/company/employees/{id}.`);
  return projected;
}

function describeFailure(error: unknown): Finding {
  const retry = ' Nobody was deactivated; the changes are delivered again, and the next full import reads everyone anyway.';
  if (error instanceof PersonioError) return { code: `personio_${error.code}`, message: `${error.message}${retry}` };
  if (error instanceof BudgetError) return { code: 'personio_rate_limited', message: `${error.message}${retry}` };
  if (error instanceof CredentialsError) return { code: error.code, message: `${error.message}${retry}` };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'fetch_failed', message: `The delta run failed (${errorName(error)}: ${message}).${retry}` };
}
