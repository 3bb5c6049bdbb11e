import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Mapping } from '../../lib/mapping/mapping.js';
import { isFinalRunStatus, toReport, type Run, type RunReport } from '../../lib/runs/run.js';
import type { FetchOutcome } from '../../lib/fetch/run-fetch.js';
import { IMPORT_QUEUE_MAX_RECEIVE_COUNT } from '../aws/stack.js';
import { fetchContext, httpEvent, scheduledEvent } from './events.js';
import type { LocalEnvironment, PersonioTarget } from './environment.js';

export class RunnerError extends Error {
  override readonly name = 'RunnerError';
}

/** Connects the tenant through the connect handler, as Dado's settings page would. */
export interface ConnectOutcome {
  warnings: string[];
  /** Whether Personio delivers this tenant's changes to the webhook route, and if not, why. */
  webhooks: { status: 'active' | 'unavailable'; reason: string | null } | undefined;
}

export async function connectThroughApi(env: LocalEnvironment, tenantId: string, personio: PersonioTarget): Promise<ConnectOutcome> {
  const response = await env.handlers.connect(
    httpEvent('PUT', `/tenants/${encodeURIComponent(tenantId)}/personio`, { clientId: personio.clientId, clientSecret: personio.clientSecret }),
  );
  const body = JSON.parse(response.body ?? '{}') as {
    warnings?: string[];
    webhooks?: ConnectOutcome['webhooks'];
    error?: { code: string; message: string };
  };
  if (response.statusCode !== 200) {
    throw new RunnerError(`Connecting tenant "${tenantId}" failed (${response.statusCode} ${body.error?.code ?? ''}): ${body.error?.message ?? 'no details'}`);
  }
  return { warnings: body.warnings ?? [], webhooks: body.webhooks };
}

/** Saves a mapping through the connect API, checked as the API checks it (a bad one names each field). */
export async function saveMappingThroughApi(env: LocalEnvironment, tenantId: string, mapping: Mapping): Promise<void> {
  const response = await env.handlers.connect(httpEvent('PUT', `/tenants/${encodeURIComponent(tenantId)}/personio/mapping`, mapping));
  if (response.statusCode === 200) return;
  const body = JSON.parse(response.body ?? '{}') as { error?: { code: string; message: string } };
  throw new RunnerError(
    `Saving the mapping of tenant "${tenantId}" failed (${response.statusCode} ${body.error?.code ?? ''}): ${body.error?.message ?? 'no details'}`,
  );
}

export interface RunProgress {
  phase: 'fetching' | 'processing';
  run: Run | undefined;
  queued: number;
}

/**
 * One import as the schedule would start it: invokes the fetch with a scheduled event while the
 * SQS event source feeds the worker, and waits until the run is final and the queue is drained.
 */
export async function runImport(
  env: LocalEnvironment,
  tenantId: string,
  options: { onProgress?: (p: RunProgress) => void; timeoutMs?: number } = {},
): Promise<RunReport> {
  env.eventSource.start();
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  let fetchOutcome: FetchOutcome | undefined;
  let fetchError: unknown;
  const fetching = env.handlers
    .fetch(scheduledEvent(tenantId), fetchContext())
    .then((o) => {
      fetchOutcome = o;
    })
    .catch((e: unknown) => {
      fetchError = e;
    });

  let runId: string | undefined;
  for (;;) {
    await Promise.race([fetching, sleep(250)]);
    if (fetchError) throw new RunnerError(`The fetch failed: ${fetchError instanceof Error ? fetchError.message : String(fetchError)}`);
    if (fetchOutcome && fetchOutcome.status !== 'fetched' && fetchOutcome.status !== 'failed') {
      throw new RunnerError(startedNothing(fetchOutcome, tenantId));
    }
    if (fetchOutcome) runId = fetchOutcome.runId;
    runId ??= (await env.runs.list(tenantId, 1))[0]?.runId;
    const run = runId ? await env.runs.get(tenantId, runId) : undefined;
    const queued = await env.eventSource.depth();
    options.onProgress?.({ phase: fetchOutcome ? 'processing' : 'fetching', run, queued });

    if (env.eventSource.failure) throw new RunnerError(`Polling SQS failed: ${String(env.eventSource.failure)}`);
    if (fetchOutcome && run && isFinalRunStatus(run.status) && queued === 0) return toReport(await env.runs.withLiveCounts(run));
    if (fetchOutcome && queued === 0) {
      const dlq = await dlqDepth(env);
      if (dlq > 0) {
        throw new RunnerError(
          `${dlq} message(s) of run ${runId} failed ${IMPORT_QUEUE_MAX_RECEIVE_COUNT} times and were set aside in the dead-letter queue; the run cannot complete.`,
        );
      }
    }
    if (Date.now() > deadline)
      throw new RunnerError(`Run ${runId ?? '(not started)'} did not finish in time (status ${run?.status ?? 'unknown'}, ${queued} message(s) queued).`);
  }
}

async function dlqDepth(env: LocalEnvironment): Promise<number> {
  const result = await env.sqs.send(new GetQueueAttributesCommand({ QueueUrl: env.queueUrls.importDlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(result.Attributes?.['ApproximateNumberOfMessages'] ?? 0);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Why a fetch started no run, as the runner tells it. */
function startedNothing(outcome: Exclude<FetchOutcome, { status: 'fetched' | 'failed' }>, tenantId: string): string {
  switch (outcome.status) {
    case 'already_running':
      return `An import of tenant "${tenantId}" is already running (run ${outcome.runId ?? 'unknown'}).`;
    case 'duplicate':
      return `This schedule firing (${outcome.scheduledAt}) of tenant "${tenantId}" started a run already.`;
    case 'not_connected':
      return `Tenant "${tenantId}" is not connected to Personio.`;
    case 'paused':
      return outcome.reason === 'imports_paused'
        ? "The stage's imports are paused by an operator (the kill switch); nothing was started."
        : `Tenant "${tenantId}" is paused after repeated credential refusals; its next scheduled try is at ${outcome.nextAttemptAt}. Reconnect with a valid credential.`;
  }
}
