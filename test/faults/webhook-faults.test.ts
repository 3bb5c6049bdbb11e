import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startWebhookStack, until, type WebhookStack } from '../helpers/webhook-stack.js';

/**
 * Fault suite, webhook side (issue 15): the receiver down for an hour, and the event bus refusing for a while. Personio's
 * retry schedule (minutes to days) runs compressed to milliseconds, so an hour of retries takes seconds.
 */

let s: WebhookStack;

beforeAll(async () => {
  s = await startWebhookStack('hook-faults', 30);
}, 120_000);

afterAll(async () => {
  await s?.env.stop();
});

describe('webhook faults', () => {
  it('loses nothing when the receiver is down for an hour: Personio’s retries bring the change once it is back', async () => {
    const { env } = s;
    const sim = env.sim!;
    const server = env.webhookServer!;
    const port = Number(new URL(server.url).port);
    const id = (await env.users.list(s.tenantId)).find((u) => u.active)!.personioId;
    await server.close();
    sim.updateEmployee(id, { position: 'Back online' });
    // Personio tries, and tries again, while nobody answers.
    await until('failed deliveries', () => sim.webhookDeliveries().filter((d) => !d.ok).length >= 2 || undefined, 20_000);
    expect((await s.userOf(id))?.position).not.toBe('Back online');
    await server.start(port);
    await until('the change to land after the receiver is back', async () => ((await s.userOf(id))?.position === 'Back online' ? true : undefined), 30_000);
    await until('the runs to settle', s.settled);
    expect(sim.webhookDeliveries().filter((d) => d.ok)).toHaveLength(1);
  }, 90_000);

  it('publishes every change at least once when the event bus refuses for a while', async () => {
    const { env } = s;
    const id = (await env.users.list(s.tenantId)).find((u) => u.active && u.position !== 'Bus down')!.personioId;
    const published = () =>
      s.userEvents(id).filter((e) => e['detail-type'] === 'User Updated' && (e.detail as { changedFields: string[] }).changedFields.includes('position'));
    const already = published().length;
    env.stack.eventBridge.setUnavailable(true);
    env.sim!.updateEmployee(id, { position: 'Bus down' });
    await until('the user to change', async () => ((await s.userOf(id))?.position === 'Bus down' ? true : undefined));
    await sleep(500);
    expect(published()).toHaveLength(already);
    env.stack.eventBridge.setUnavailable(false);
    await until('the change event to be published', () => (published().length > already ? true : undefined), 30_000);
    await until('the runs to settle', s.settled);
    await env.changeEventsIdle();
    // The run's outcome made it too.
    const delta = (await env.runs.list(s.tenantId, 50)).find((r) => r.mode === 'delta');
    expect(env.stack.eventBridge.events().some((e) => (e.detail as { runId?: string }).runId === delta?.runId && e['detail-type'] === 'Run Completed')).toBe(
      true,
    );
  }, 60_000);
});
