import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../local/runner/import-run.js';
import { startWebhookStack, until, type WebhookStack } from '../helpers/webhook-stack.js';

/**
 * The webhook path as a user runs it (`npm start` / `npm run serve`): the simulator delivers Personio's webhooks to the
 * local route, the receiver queues them, the refresh re-reads the employees as delta runs, the worker writes the
 * users, and the tables' streams publish the change events. Nothing here calls a handler directly.
 */

let s: WebhookStack;

beforeAll(async () => {
  s = await startWebhookStack('hooks', 40);
}, 120_000);

afterAll(async () => {
  await s?.env.stop();
});

describe('webhooks end to end', () => {
  it('brings a change in Personio into the user within seconds, as a delta run, and publishes exactly what changed', async () => {
    const { env } = s;
    const id = (await env.users.list(s.tenantId)).find((u) => u.active)!.personioId;
    env.sim!.updateEmployee(id, { position: 'Webhook Engineer' });
    const after = await until('the user to carry the new position', async () => {
      const user = await s.userOf(id);
      return user?.position === 'Webhook Engineer' ? user : undefined;
    });
    await until('the runs to settle', s.settled);
    await env.changeEventsIdle();

    const delta = (await env.runs.list(s.tenantId, 50)).find((r) => r.mode === 'delta');
    expect(delta).toMatchObject({ mode: 'delta', trigger: 'webhook', status: 'completed', employeesFetched: 1, updated: 1 });
    const updated = s.userEvents(id).filter((e) => e['detail-type'] === 'User Updated');
    expect(updated).toHaveLength(1);
    expect(updated[0]?.detail).toMatchObject({ tenantId: s.tenantId, userId: after.userId, personioId: id, runId: delta?.runId, changedFields: ['position'] });
    // No value of any field, ever.
    expect(JSON.stringify(updated[0])).not.toContain('Webhook Engineer');
    const runEvent = env.stack.eventBridge
      .events()
      .find((e) => (e.detail as { runId?: string }).runId === delta?.runId && e['detail-type'] === 'Run Completed');
    expect(runEvent?.detail).toMatchObject({ mode: 'delta', trigger: 'webhook', status: 'completed' });
  }, 60_000);

  it('deactivates (never deletes) an employee removed from Personio, and publishes User Deactivated', async () => {
    const { env } = s;
    const id = (await env.users.list(s.tenantId)).filter((u) => u.active).at(-1)!.personioId;
    env.sim!.removeEmployees([id]);
    const user = await until('the user to be deactivated', async () => {
      const u = await s.userOf(id);
      return u && !u.active ? u : undefined;
    });
    expect(user.userId).toBeTruthy();
    await until('the runs to settle', s.settled);
    await env.changeEventsIdle();
    expect(s.userEvents(id).map((e) => e['detail-type'])).toContain('User Deactivated');
  }, 60_000);

  it('applies changes made while a full run is going, and both runs finish', async () => {
    const { env } = s;
    const ids = (await env.users.list(s.tenantId))
      .filter((u) => u.active)
      .map((u) => u.personioId)
      .slice(0, 5);
    const full = runImport(env, s.tenantId);
    for (const [i, id] of ids.entries()) env.sim!.updateEmployee(id, { last_name: `During ${i}` });
    expect((await full).status).toBe('completed');
    await until('every change to land', async () => {
      const users = await env.users.list(s.tenantId);
      return ids.every((id, i) => users.find((u) => u.personioId === id)?.lastName === `During ${i}`) ? true : undefined;
    });
    await until('the runs to settle', s.settled);
    // Nobody lost access on the way.
    const users = await env.users.list(s.tenantId);
    for (const id of ids) expect(users.find((u) => u.personioId === id)?.active).toBe(true);
  }, 120_000);

  it('publishes events that match what landed: one creation per user, and every user’s last state change is its current state', async () => {
    const { env } = s;
    // A leaver and a rehire-like return on top of the changes above, then everything settled and published.
    const [leaver, returner] = (await env.users.list(s.tenantId)).filter((u) => u.active).map((u) => u.personioId);
    env.sim!.terminateEmployee(leaver!);
    env.sim!.terminateEmployee(returner!);
    await until('both to be deactivated', async () =>
      (await s.userOf(returner!))?.active === false && (await s.userOf(leaver!))?.active === false ? true : undefined,
    );
    env.sim!.updateEmployee(returner!, { status: 'active', termination_date: null });
    await until('the returner to be active again', async () => ((await s.userOf(returner!))?.active ? true : undefined));
    await until('the runs to settle', s.settled);
    await env.changeEventsIdle();

    const events = env.stack.eventBridge.events();
    const users = await env.users.list(s.tenantId);
    const byUser = new Map<string, string[]>();
    for (const e of events) {
      const userId = (e.detail as { userId?: string }).userId;
      if (userId) byUser.set(userId, [...(byUser.get(userId) ?? []), e['detail-type']]);
    }
    // Every user in the table was announced exactly once, and nobody else was.
    expect([...byUser.keys()].sort()).toEqual(users.map((u) => u.userId).sort());
    for (const user of users) {
      const types = byUser.get(user.userId) ?? [];
      expect(
        types.filter((t) => t === 'User Created'),
        user.userId,
      ).toHaveLength(1);
      const lastStateChange = types.filter((t) => t === 'User Deactivated' || t === 'User Reactivated').at(-1);
      if (user.active) expect(lastStateChange === undefined || lastStateChange === 'User Reactivated', user.userId).toBe(true);
      // A user deactivated by an import says so; one created inactive (a leaver already at the first import) never changed state.
      else if (user.deactivatedAt) expect(lastStateChange, user.userId).toBe('User Deactivated');
      else expect(lastStateChange === undefined || lastStateChange === 'User Deactivated', user.userId).toBe(true);
    }
    expect(byUser.get((await s.userOf(returner!))!.userId)).toEqual(expect.arrayContaining(['User Deactivated', 'User Reactivated']));
    // Each event once per change: no idempotency key repeats (the stand-in saw every PutEvents the publisher made).
    const keys = events.map((e) => (e.detail as { idempotencyKey: string }).idempotencyKey);
    expect(new Set(keys).size).toBe(keys.length);
    // Every run the tenant has, whatever its mode, announced its outcome.
    for (const run of await env.runs.list(s.tenantId, 500)) {
      const outcome = events.filter((e) => (e.detail as { runId?: string }).runId === run.runId && e['detail-type'].startsWith('Run '));
      expect(
        outcome.map((e) => e['detail-type']),
        run.runId,
      ).toEqual([`Run ${run.status.charAt(0).toUpperCase()}${run.status.slice(1)}`]);
    }
  }, 120_000);
});
