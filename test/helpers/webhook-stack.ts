/**
 * The local stack as `npm start` and `npm run serve` run it with webhooks and change events on (the simulator delivers
 * to the local webhook route), for the tests that follow a change from Personio to the users table and the bus.
 */
import { expect } from 'vitest';
import { isFinalRunStatus } from '../../lib/runs/run.js';
import type { PublishedEvent } from '../../local/aws/eventbridge.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` gives a value (not undefined or false). */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface WebhookStack {
  env: LocalEnvironment;
  tenantId: string;
  userOf(personioId: number): Promise<Awaited<ReturnType<LocalEnvironment['users']['list']>>[number] | undefined>;
  /** Every run of the tenant is final, and the import and changes queues are drained. */
  settled(): Promise<true | undefined>;
  /** The change events published about one employee's user. */
  userEvents(personioId: number): PublishedEvent[];
}

/**
 * Starts the stack with the simulator (`employees`), Personio's retry schedule compressed to milliseconds (an hour of
 * retries in seconds), connects the tenant (its webhook active) and imports it once.
 */
export async function startWebhookStack(tenantId: string, employees: number): Promise<WebhookStack> {
  const env = await startLocalEnvironment({ simulator: { employees }, webhooks: true, changeEvents: true });
  env.sim?.setKnobs({ webhookRetryDelaysMs: [200, 400, 800, 1_600, 3_200, 6_400] });
  const { webhooks } = await connectThroughApi(env, tenantId, env.personio);
  expect(webhooks).toEqual({ status: 'active', reason: null });
  const first = await runImport(env, tenantId);
  expect(first.status).toBe('completed');
  await env.changeEventsIdle();
  return {
    env,
    tenantId,
    userOf: async (personioId) => (await env.users.list(tenantId)).find((u) => u.personioId === personioId),
    settled: async () => {
      const runs = await env.runs.list(tenantId, 500);
      if (runs.some((r) => !isFinalRunStatus(r.status))) return undefined;
      if ((await env.eventSource.depth()) > 0 || (await env.refreshSource.depth()) > 0) return undefined;
      return true;
    },
    userEvents: (personioId) => env.stack.eventBridge.events().filter((e) => (e.detail as { personioId?: number }).personioId === personioId),
  };
}
