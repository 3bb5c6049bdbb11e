/**
 * Shared by the refresh tests (not a test file itself): change messages as the webhook receiver queues them, the real
 * refresh handler fed batches of them as the changes queue's event source mapping would (up to 100 per batch), and
 * waiting for a tenant's delta runs to be final once the worker has drained the import queue.
 */
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSBatchResponse } from 'aws-lambda';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { QueueSender } from '../../lib/queue/sender.js';
import type { RefreshDeps } from '../../lib/refresh/refresh-tenant.js';
import { RunStore, type RunStoreOptions } from '../../lib/runs/store.js';
import { ConnectionStore } from '../../lib/tenants/connections.js';
import { UserStore } from '../../lib/users/store.js';
import { isFinalRunStatus, toReport, type Run, type RunReport } from '../../lib/runs/run.js';
import type { ChangeMessage } from '../../lib/webhooks/change.js';
import { type LocalEnvironment, localNames } from '../../local/runner/environment.js';
import { lambdaContext, sqsEvent } from '../helpers/events.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The change message the receiver queues for one delivery. */
export function changeBody(tenantId: string, personId: number, event: ChangeMessage['event'] = 'person.updated'): string {
  const now = new Date().toISOString();
  const message: ChangeMessage = { v: 1, tenantId, event, personId, occurredAt: now, receivedAt: now };
  return JSON.stringify(message);
}

type RefreshHandler = typeof import('../../functions/refresh.js')['handler'];
let loaded: RefreshHandler | undefined;

/** The real handler, imported once the local environment has set the variables it reads at module load. */
export async function refreshHandler(): Promise<RefreshHandler> {
  loaded ??= (await import('../../functions/refresh.js')).handler;
  return loaded;
}

/** Hands change messages to the refresh handler as one SQS batch (the deployed function's 5-minute timeout). */
export async function deliverChanges(bodies: readonly string[], timeoutMs = 5 * 60_000): Promise<SQSBatchResponse & { messageIds: string[] }> {
  const handler = await refreshHandler();
  const messages = bodies.map((Body) => ({ Body, MessageId: randomUUID() }));
  const response = await handler(sqsEvent(messages, 'arn:aws:sqs:eu-central-1:000000000000:changes'), lambdaContext('personio-refresh', timeoutMs));
  return { ...response, messageIds: messages.map((m) => m.MessageId) };
}

/** The tenant's delta runs, oldest first. */
export async function deltaRuns(env: LocalEnvironment, tenantId: string): Promise<Run[]> {
  return (await env.runs.list(tenantId, 200)).filter((r) => r.mode === 'delta').reverse();
}

/** Waits until the run is final and the import queue is drained (the caller has started the event source). */
export async function finalReport(env: LocalEnvironment, tenantId: string, runId: string, timeoutMs = 60_000): Promise<RunReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await env.runs.get(tenantId, runId);
    if (run && isFinalRunStatus(run.status) && (await env.eventSource.depth()) === 0) return toReport(await env.runs.withLiveCounts(run));
    if (Date.now() > deadline) throw new Error(`run ${runId} of ${tenantId} is still ${run?.status ?? 'missing'}`);
    await sleep(50);
  }
}

/** The newest delta run of the tenant once it is final. */
export async function latestDeltaReport(env: LocalEnvironment, tenantId: string, timeoutMs?: number): Promise<RunReport> {
  const latest = (await deltaRuns(env, tenantId)).at(-1);
  if (!latest) throw new Error(`tenant ${tenantId} has no delta run`);
  return finalReport(env, tenantId, latest.runId, timeoutMs);
}

/**
 * What the refresh handler builds at module load, for calling lib/refresh directly: with a Personio `fetch` of the
 * test's (faults at the HTTP edge) or a budget with other windows.
 */
export function refreshDeps(
  env: LocalEnvironment,
  personioUrl: string,
  options: { fetch?: typeof globalThis.fetch; budget?: RunStoreOptions['budget'] } = {},
): RefreshDeps {
  const db = createDocumentClient();
  return {
    connections: new ConnectionStore(db, localNames.connectionsTable),
    runs: new RunStore(db, localNames.runsTable, options.budget ? { budget: options.budget } : {}),
    users: new UserStore(db, localNames.usersTable),
    credentials: new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix),
    createSender: () => new QueueSender({ sqs: env.sqs, queueUrl: env.queueUrls.importQueueUrl }),
    personio: { baseUrl: personioUrl, appId: 'DADO', ...(options.fetch ? { fetch: options.fetch } : {}) },
    now: () => new Date(),
    deactivationThreshold: 0.2,
  };
}
