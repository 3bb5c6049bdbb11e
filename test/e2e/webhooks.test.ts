import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFinalRunStatus } from '../../lib/runs/run.js';
import type { PublishedEvent } from '../../local/aws/eventbridge.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';

/**
 * The webhook path as a user runs it (`npm start` / `npm run serve`): the simulator delivers Personio's webhooks to the
 * local route, the receiver queues them, the refresh re-reads the employees as delta runs, the worker writes the
 * users, and the tables' streams publish the change events. Nothing here calls a handler directly.
 *
 * Also the fault suite's two webhook cases: the receiver down for an hour (Personio's retries, on a compressed
 * schedule, bring every change), and the event bus refusing for a while (every change still published).
 */

const TENANT = 'hooks';
let env: LocalEnvironment;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function userOf(personioId: number) {
  return (await env.users.list(TENANT)).find((u) => u.personioId === personioId);
}

/** Every delta run of the tenant is final and the import queue is drained. */
async function settled(): Promise<true | undefined> {
  const runs = await env.runs.list(TENANT, 500);
  if (runs.some((r) => !isFinalRunStatus(r.status))) return undefined;
  if ((await env.eventSource.depth()) > 0 || (await env.refreshSource.depth()) > 0) return undefined;
  return true;
}

const userEvents = (personioId: number): PublishedEvent[] =>
  env.stack.eventBridge.events().filter((e) => (e.detail as { personioId?: number }).personioId === personioId);

beforeAll(async () => {
  env = await startLocalEnvironment({ simulator: { employees: 40 }, webhooks: true, changeEvents: true });
  // Personio's retry schedule (minutes to days) compressed to milliseconds: an hour of retries in a second.
  env.sim?.setKnobs({ webhookRetryDelaysMs: [200, 400, 800, 1_600, 3_200, 6_400] });
  const { webhooks } = await connectThroughApi(env, TENANT, env.personio);
  expect(webhooks).toEqual({ status: 'active', reason: null });
  const first = await runImport(env, TENANT);
  expect(first.status).toBe('completed');
  await env.changeEventsIdle();
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe('webhooks end to end', () => {
  it('brings a change in Personio into the user within seconds, as a delta run, and publishes exactly what landed', async () => {
    const sim = env.sim!;
    const id = (await env.users.list(TENANT)).find((u) => u.active)!.personioId;
    const before = await userOf(id);
    sim.updateEmployee(id, { position: 'Webhook Engineer' });
    const after = await until('the user to carry the new position', async () => {
      const user = await userOf(id);
      return user?.position === 'Webhook Engineer' ? user : undefined;
    });
    await until('the runs to settle', settled);
    await env.changeEventsIdle();

    const delta = (await env.runs.list(TENANT, 50)).find((r) => r.mode === 'delta');
    expect(delta).toMatchObject({ mode: 'delta', trigger: 'webhook', status: 'completed', employeesFetched: 1, updated: 1 });
    const updated = userEvents(id).filter((e) => e['detail-type'] === 'User Updated');
    expect(updated).toHaveLength(1);
    // The names of what changed, read from the table: the event says nothing the table does not.
    const changed = Object.keys(after).filter((k) => JSON.stringify(after[k as keyof typeof after]) !== JSON.stringify(before?.[k as keyof typeof before]));
    expect(changed).toContain('position');
    expect(updated[0]?.detail).toMatchObject({ tenantId: TENANT, userId: after.userId, personioId: id, runId: delta?.runId, changedFields: ['position'] });
    // No value of any field, ever.
    expect(JSON.stringify(updated[0])).not.toContain('Webhook Engineer');
    const runEvent = env.stack.eventBridge
      .events()
      .find((e) => (e.detail as { runId?: string }).runId === delta?.runId && e['detail-type'] === 'Run Completed');
    expect(runEvent?.detail).toMatchObject({ mode: 'delta', trigger: 'webhook', status: 'completed' });
  }, 60_000);

  it('deactivates (never deletes) an employee removed from Personio, and publishes User Deactivated', async () => {
    const sim = env.sim!;
    const id = (await env.users.list(TENANT)).filter((u) => u.active).at(-1)!.personioId;
    sim.removeEmployees([id]);
    const user = await until('the user to be deactivated', async () => {
      const u = await userOf(id);
      return u && !u.active ? u : undefined;
    });
    expect(user.userId).toBeTruthy();
    await until('the runs to settle', settled);
    await env.changeEventsIdle();
    expect(userEvents(id).map((e) => e['detail-type'])).toContain('User Deactivated');
  }, 60_000);

  it('loses nothing when the receiver is down for an hour: Personio’s retries bring the change once it is back', async () => {
    const sim = env.sim!;
    const server = env.webhookServer!;
    const port = Number(new URL(server.url).port);
    const id = (await env.users.list(TENANT)).find((u) => u.active && u.position !== 'Back online')!.personioId;
    await server.close();
    sim.updateEmployee(id, { position: 'Back online' });
    // Personio tries, and tries again, while nobody answers.
    await until('failed deliveries', () => sim.webhookDeliveries().filter((d) => !d.ok).length >= 2 || undefined, 20_000);
    expect((await userOf(id))?.position).not.toBe('Back online');
    await server.start(port);
    await until('the change to land after the receiver is back', async () => ((await userOf(id))?.position === 'Back online' ? true : undefined), 30_000);
    await until('the runs to settle', settled);
  }, 90_000);

  it('publishes every change at least once when the event bus refuses for a while', async () => {
    const sim = env.sim!;
    const id = (await env.users.list(TENANT)).find((u) => u.active && u.position !== 'Bus down')!.personioId;
    const published = () =>
      userEvents(id).filter((e) => e['detail-type'] === 'User Updated' && (e.detail as { changedFields: string[] }).changedFields.includes('position'));
    const already = published().length;
    env.stack.eventBridge.setUnavailable(true);
    sim.updateEmployee(id, { position: 'Bus down' });
    await until('the user to change', async () => ((await userOf(id))?.position === 'Bus down' ? true : undefined));
    await sleep(500);
    expect(published()).toHaveLength(already);
    env.stack.eventBridge.setUnavailable(false);
    await until('the change event to be published', () => (published().length > already ? true : undefined), 30_000);
  }, 60_000);

  it('applies changes made while a full run is going, and both runs finish', async () => {
    const sim = env.sim!;
    const ids = (await env.users.list(TENANT))
      .filter((u) => u.active)
      .map((u) => u.personioId)
      .slice(0, 5);
    const full = runImport(env, TENANT);
    for (const [i, id] of ids.entries()) sim.updateEmployee(id, { last_name: `During ${i}` });
    const report = await full;
    expect(report.status).toBe('completed');
    await until('every change to land', async () => {
      const users = await env.users.list(TENANT);
      return ids.every((id, i) => users.find((u) => u.personioId === id)?.lastName === `During ${i}`) ? true : undefined;
    });
    await until('the runs to settle', settled);
    // Nobody lost access on the way.
    const users = await env.users.list(TENANT);
    for (const id of ids) expect(users.find((u) => u.personioId === id)?.active).toBe(true);
  }, 120_000);
});
