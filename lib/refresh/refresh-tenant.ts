import { CredentialsError, type CredentialsStore } from '../credentials/store.js';
import { projection } from '../mapping/mapping.js';
import { BudgetError, type BudgetLease } from '../personio/budget.js';
import { PersonioClient, type PersonioClientOptions } from '../personio/client.js';
import { PersonioError } from '../personio/errors.js';
import { MessagePacker } from '../queue/packer.js';
import type { QueueSender } from '../queue/sender.js';
import { finalizeRun, type FinalizeDeps } from '../runs/finalize.js';
import { leaseUntil, runLeases } from '../runs/lease.js';
import { boundedFinding, newRunId, type Finding } from '../runs/run.js';
import type { ConnectionStore } from '../tenants/connections.js';
import { errorName } from '../util/errors.js';
import { type NamedPeople, readNamed, type ReadsOutcome } from './reads.js';

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
  /** The tenant's Personio budget stayed taken (a full fetch, most likely): no run; the changes come back shortly. */
  | { status: 'busy' }
  | {
      status: 'refreshed';
      runId: string;
      /** Employees read, plus those reported as not read (`unread`): what the run's per-employee counts add up to. */
      employeesFetched: number;
      /** Named with a deletion and answered 404: the run's `gone` list. */
      gone: number;
      /** Not read, each reported with its reason (a 404 without a deletion, one employee's 5xx, …); nobody deactivated. */
      unread: number;
      messagesSent: number;
      personioRequests: number;
      personio429: number;
      finalStatus: 'completed' | 'held' | undefined;
    }
  /** Nobody was deactivated; the changes are to be delivered again (SQS redelivers them, its DLQ takes poison). */
  | { status: 'failed'; runId: string; failure: Finding; personioRequests: number; personio429: number };

/** Kept back from the deadline to close the run after the reads. */
const CLOSE_MARGIN_MS = 15_000;
/**
 * How long a delta run waits for the tenant's Personio budget. Short: whoever holds it may be a full fetch for minutes,
 * and a delta run that waited that long would only hold up its batch; with no run opened, its changes come back
 * through the changes queue within seconds (the handler shortens their visibility) and try again.
 */
const BUDGET_WAIT_MS = 20_000;

/**
 * A delta run: re-reads the employees Personio's webhooks named (lib/refresh/reads.ts), hands them to the import queue
 * exactly as a full fetch does (same messages, same worker, same upserts, versioned by the run's start), and closes the
 * fetch part. A person named with a deletion whom Personio answers 404 for goes to the run's `gone` list, which its
 * finalization deactivates (never deletes) under the guard; any other employee it cannot read is reported, never
 * deactivated. It claims no tenant lock (it may run beside a full run and other delta runs: every write is versioned),
 * but takes the tenant's Personio budget (lib/personio/budget.ts) before it opens its run: while the budget is busy
 * it opens none (`busy`).
 */
export async function refreshTenant(deps: RefreshDeps, tenantId: string, people: NamedPeople, deadline: number): Promise<RefreshOutcome> {
  const [importsPause, connection] = await Promise.all([deps.connections.importsPause(), deps.connections.get(tenantId)]);
  // Skipped changes are acknowledged, not retried: the tenant's next full reconciliation reads every employee anyway.
  if (importsPause) return { status: 'skipped', reason: 'imports_paused' };
  if (!connection || connection.status === 'disconnected') return { status: 'skipped', reason: 'not_connected' };
  if (connection.paused) return { status: 'skipped', reason: 'tenant_paused' };

  let lease: BudgetLease;
  try {
    // The holder is only a name for the lease: the run gets its id (its start) once the lease is ours.
    lease = await deps.runs.budget.acquire(tenantId, {
      holder: newRunId(deps.now()),
      waitUntil: Math.min(Date.now() + BUDGET_WAIT_MS, deadline - CLOSE_MARGIN_MS),
      deadline,
    });
  } catch (error) {
    if (error instanceof BudgetError) return { status: 'busy' };
    throw error;
  }
  // Started once the budget is ours: a full run that started while this one waited must not version its (older) data
  // above what this run reads after it.
  const startedAt = deps.now();
  const runId = newRunId(startedAt);
  try {
    await deps.runs.create({
      tenantId,
      runId,
      mode: 'delta',
      trigger: 'webhook',
      mapping: connection.mapping,
      startedAt,
      leaseExpiresAt: deadline + runLeases.fetchMarginMs,
    });
  } catch (error) {
    await lease.release();
    throw error;
  }

  const stats = { personioRequests: 0, personio429: 0, employeesFetched: 0 };
  let client: PersonioClient | undefined;
  let sent: number;
  let complete: boolean;
  let reads: ReadsOutcome;
  try {
    const credentials = await deps.credentials.get(tenantId);
    const reader = new PersonioClient({ ...deps.personio, credentials, deadline: deadline - CLOSE_MARGIN_MS, limiter: lease.limiter });
    client = reader;
    const packer = new MessagePacker({ tenantId, runId, fetchedAt: startedAt.toISOString(), touch: true });
    const sender = deps.createSender();
    const keep = new Set(projection(connection.mapping));
    // Handed on one at a time, in the order they arrive, as the pager does: the packer and the sender need no locking.
    let delivering: Promise<void> = Promise.resolve();
    reads = await readNamed(reader, people, keep, deadline - CLOSE_MARGIN_MS, (employee) => {
      stats.employeesFetched++;
      delivering = delivering.then(() => sender.add(packer.add(employee)));
    }).finally(() => lease.release());
    await delivering;
    await sender.add(packer.flush());
    await sender.flush();
    // Reported employees count as the run's (failed, as a full fetch's rejected ones): its counts add up to this.
    stats.employeesFetched += reads.unread.length;
    Object.assign(stats, { personioRequests: reader.stats.requests, personio429: reader.stats.rateLimited });
    sent = sender.sent;
    ({ complete } = await deps.runs.closeFetch(tenantId, runId, {
      messagesSent: sent,
      ...stats,
      personioTotal: undefined,
      findings: [],
      rejected: [...packer.rejected.map((r) => ({ personioId: r.personioId, reason: r.reason })), ...reads.unread],
      gone: reads.gone,
      at: deps.now(),
      leaseExpiresAt: leaseUntil(deps.now(), runLeases.processingMs),
    }));
  } catch (error) {
    await lease.release();
    if (client) Object.assign(stats, { personioRequests: client.stats.requests, personio429: client.stats.rateLimited });
    const failure = boundedFinding(describeFailure(error));
    await deps.runs.fail(tenantId, runId, failure, stats, deps.now());
    return { status: 'failed', runId, failure, personioRequests: stats.personioRequests, personio429: stats.personio429 };
  }
  // The workers may have processed every message before the fetch part closed (or there was none): finishing is ours.
  const finalStatus = complete ? await finalizeRun(deps, tenantId, runId) : undefined;
  return { status: 'refreshed', runId, ...stats, gone: reads.gone.length, unread: reads.unread.length, messagesSent: sent, finalStatus };
}

function describeFailure(error: unknown): Finding {
  const retry = ' Nobody was deactivated; the changes are delivered again, and the next full import reads everyone anyway.';
  if (error instanceof PersonioError) return { code: `personio_${error.code}`, message: `${error.message}${retry}` };
  if (error instanceof CredentialsError) return { code: error.code, message: `${error.message}${retry}` };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'fetch_failed', message: `The delta run failed (${errorName(error)}: ${message}).${retry}` };
}
