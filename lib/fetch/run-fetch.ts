import type { CredentialsStore } from '../credentials/store.js';
import { CredentialsError } from '../credentials/store.js';
import { projection } from '../mapping/mapping.js';
import { BudgetError, type BudgetLease } from '../personio/budget.js';
import { PersonioClient, type PersonioClientOptions } from '../personio/client.js';
import { PersonioError } from '../personio/errors.js';
import { PagingError, pageEmployees } from '../personio/pager.js';
import { MessagePacker } from '../queue/packer.js';
import type { QueueSender } from '../queue/sender.js';
import { finalizeRun } from '../runs/finalize.js';
import { leaseUntil, runLeases } from '../runs/lease.js';
import { claimTenant, type TenantLockDeps } from '../runs/tenant-lock.js';
import { boundedFinding, newRunId, type Finding, type RunMode } from '../runs/run.js';
import { errorName } from '../util/errors.js';
import type { ConnectionStore } from '../tenants/connections.js';
import { attemptDue, isScheduledTrigger, nextAttemptAt } from '../tenants/pause.js';

export interface FetchDeps extends TenantLockDeps {
  connections: ConnectionStore;
  credentials: CredentialsStore;
  createSender: () => QueueSender;
  personio: Pick<PersonioClientOptions, 'baseUrl' | 'appId'> & Partial<Pick<PersonioClientOptions, 'fetch' | 'timeoutMs'>>;
  /** Runs in a row refused by Personio after which a tenant's scheduled imports are paused (lib/tenants/pause.ts). */
  pauseAfterCredentialFailures: number;
}

export interface FetchInput {
  tenantId: string;
  /** Delta runs are lib/refresh/refresh-tenant.ts's. */
  mode: Extract<RunMode, 'full'>;
  trigger: string;
  /** Chosen by the caller (connect's "import now" answers with it and has claimed the tenant for it); a new one otherwise. */
  runId?: string;
  /** The schedule firing this fetch is for: a duplicate delivery of the same firing starts nothing. */
  scheduledAt?: string;
}

export type FetchOutcome =
  | {
      status: 'fetched';
      runId: string;
      messagesSent: number;
      employeesFetched: number;
      personioRequests: number;
      personio429: number;
      finalStatus: 'completed' | 'held' | undefined;
    }
  | { status: 'failed'; runId: string; failure: Finding; personioRequests: number; personio429: number }
  | { status: 'already_running'; runId: string | undefined }
  | { status: 'duplicate'; scheduledAt: string }
  | { status: 'not_connected' }
  /** Nothing started: the stage's imports are paused by an operator, or the tenant is paused (its next try is due then). */
  | { status: 'paused'; reason: 'imports_paused' }
  | { status: 'paused'; reason: 'invalid_credentials'; nextAttemptAt: string };

/** Time kept back from the deadline to close the run record after Personio paging stops. */
const CLOSE_MARGIN_MS = 15_000;
/**
 * How long a full fetch waits for the tenant's Personio budget (lib/personio/budget.ts) while delta runs hold it. A
 * delta run holds it only for its reads, at most one SQS batch of 100 employees (7 s at 15/s, up to a minute when the
 * window before it was full), and a waiting full fetch goes next (priority), so the wait is normally seconds. Generous
 * all the same: a full fetch that gives up fails its run, and with one reconciliation a day that costs a day, while the
 * fetch has 15 minutes and needs only a few of them after the wait.
 */
const BUDGET_WAIT_MS = 5 * 60_000;

/**
 * One import's fetch: claims the tenant (one run at a time, until that run is final), opens a run, pages every
 * employee from Personio into SQS messages, and closes the fetch part of the run. A fetch that fails or runs out of
 * time marks the run failed with the reason and frees the tenant; a failed run never deactivates anyone.
 */
export async function runFetch(deps: FetchDeps, input: FetchInput, deadline: number): Promise<FetchOutcome> {
  const [importsPause, connection] = await Promise.all([deps.connections.importsPause(), deps.connections.get(input.tenantId)]);
  if (importsPause) {
    // An "import now" accepted before the switch was set has claimed the tenant for this run: free it.
    if (input.runId) await deps.connections.releaseRun(input.tenantId, input.runId);
    return { status: 'paused', reason: 'imports_paused' };
  }
  if (!connection || connection.status === 'disconnected') return { status: 'not_connected' };
  // A paused tenant's schedule still fires hourly; only one firing a day tries the credential (no schedule to change).
  const pause = connection.paused;
  if (pause && isScheduledTrigger(input.trigger)) {
    const now = deps.now();
    if (!attemptDue(pause, now) || !(await deps.connections.credentialHealth.claimAttempt(input.tenantId, now)))
      return { status: 'paused', reason: 'invalid_credentials', nextAttemptAt: nextAttemptAt(pause).toISOString() };
  }

  const startedAt = deps.now();
  let runId = input.runId ?? newRunId(startedAt);
  // EventBridge Scheduler and Lambda's asynchronous invoke both deliver at least once: one firing, one run. A retry
  // after a delivery that died before its run existed gets that delivery's run id, and starts it.
  if (input.scheduledAt) {
    runId = await deps.runs.runOfFiring(input.tenantId, input.scheduledAt, runId, startedAt);
    if (await deps.runs.get(input.tenantId, runId)) return { status: 'duplicate', scheduledAt: input.scheduledAt };
  }
  // A redelivered invocation of a run that exists already (Lambda retries asynchronous events) starts nothing.
  if (input.runId && (await deps.runs.get(input.tenantId, input.runId))) return { status: 'already_running', runId: input.runId };
  const claim = await claimTenant(deps, input.tenantId, runId);
  if (!claim.claimed) return { status: 'already_running', runId: claim.runningRunId };

  // Two deliveries of one firing (or of one "import now") may both get here with the same run id: the run's
  // conditional creation lets exactly one go on; the other starts nothing and fails nothing.
  const created = await deps.runs.create({
    tenantId: input.tenantId,
    runId,
    mode: input.mode,
    trigger: input.trigger,
    mapping: connection.mapping,
    startedAt,
    leaseExpiresAt: deadline + runLeases.fetchMarginMs,
  });
  if (!created) return input.scheduledAt ? { status: 'duplicate', scheduledAt: input.scheduledAt } : { status: 'already_running', runId };

  const stats = { personioRequests: 0, personio429: 0, employeesFetched: 0 };
  let client: PersonioClient | undefined;
  let lease: BudgetLease | undefined;
  let sent: number;
  let complete: boolean;
  try {
    const credentials = await deps.credentials.get(input.tenantId);
    // The tenant's delta runs call Personio with the same credential from other containers: one budget for all.
    lease = await deps.runs.budget.acquire(input.tenantId, {
      holder: runId,
      waitUntil: Math.min(Date.now() + BUDGET_WAIT_MS, deadline - CLOSE_MARGIN_MS),
      deadline,
      priority: true,
    });
    client = new PersonioClient({ ...deps.personio, credentials, deadline: deadline - CLOSE_MARGIN_MS, limiter: lease.limiter });
    const packer = new MessagePacker({ tenantId: input.tenantId, runId, fetchedAt: startedAt.toISOString() });
    const sender = deps.createSender();
    const paging = await pageEmployees(client, { attributes: projection(connection.mapping) }, async (employees) => {
      // Counted as they arrive, so a run that fails later still says how many it handed on.
      stats.employeesFetched += employees.length;
      for (const employee of employees) await sender.add(packer.add(employee));
    }).finally(() => lease?.release());
    await sender.add(packer.flush());
    await sender.flush();
    Object.assign(stats, { personioRequests: client.stats.requests, personio429: client.stats.rateLimited, employeesFetched: paging.employees });

    const rejected = packer.rejected.map((r) => ({ personioId: r.personioId, reason: r.reason }));
    sent = sender.sent;
    ({ complete } = await deps.runs.closeFetch(input.tenantId, runId, {
      messagesSent: sent,
      ...stats,
      personioTotal: paging.total,
      findings: [],
      rejected,
      at: deps.now(),
      leaseExpiresAt: leaseUntil(deps.now(), runLeases.processingMs),
    }));
  } catch (error) {
    await lease?.release();
    if (client) Object.assign(stats, { personioRequests: client.stats.requests, personio429: client.stats.rateLimited });
    // Bounded here too, so the outcome answers what the run record holds.
    const failure = boundedFinding(describeFailure(error));
    // Only the credential this fetch used: an admin may have reconnected with a new one meanwhile. Counted: enough
    // refusals in a row pause the tenant's scheduled imports.
    if (error instanceof PersonioError && error.code === 'invalid_credentials')
      await deps.connections.credentialHealth.recordFailure(input.tenantId, connection.credentialsAt, deps.pauseAfterCredentialFailures, deps.now());
    await deps.runs.fail(input.tenantId, runId, failure, stats, deps.now());
    await deps.connections.releaseRun(input.tenantId, runId);
    return { status: 'failed', runId, failure, personioRequests: stats.personioRequests, personio429: stats.personio429 };
  }

  // Closed: the run now belongs to its messages. An error from here on neither fails it nor frees the tenant (the
  // workers, the run's lease and the sweeper finish it); it reaches the handler, which logs it.
  // Personio accepted the stored credential: an earlier refusal has passed, and so has any pause.
  if (connection.status === 'invalid_credentials' || connection.credentialFailures || connection.paused)
    await deps.connections.markCredentialsValid(input.tenantId, deps.now(), connection.credentialsAt);
  // The workers may have processed every message before the fetch closed: then finishing is ours.
  const finalStatus = complete ? await finalizeRun(deps, input.tenantId, runId) : undefined;
  return { status: 'fetched', runId, messagesSent: sent, ...stats, finalStatus };
}

function describeFailure(error: unknown): Finding {
  if (error instanceof PagingError) {
    return {
      code: 'personio_list_unstable',
      message: `${error.message} Nobody was deactivated; the next scheduled import will read the list again.`,
    };
  }
  if (error instanceof PersonioError) {
    const advice: Partial<Record<PersonioError['code'], string>> = {
      invalid_credentials: ' Reconnect Personio with a valid Client ID and Secret.',
      forbidden: ' Check the API credential’s access in Personio.',
      rate_limited: ' Personio kept rate-limiting; the next scheduled import will try again.',
      unavailable: ' Personio was unavailable; the next scheduled import will try again.',
      timeout: ' The import ran out of time; the next scheduled import will try again.',
    };
    return { code: `personio_${error.code}`, message: `${error.message}${advice[error.code] ?? ''}` };
  }
  if (error instanceof CredentialsError) return { code: error.code, message: error.message };
  if (error instanceof BudgetError) return { code: 'personio_rate_limited', message: `${error.message} The next scheduled import will try again.` };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'fetch_failed', message: `The fetch failed (${errorName(error)}: ${message}).` };
}
