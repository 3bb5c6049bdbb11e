import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '../../lib/config.js';
import { localNames } from '../../local/runner/environment.js';
import { createWebhookServer, type WebhookServer } from '../../local/runner/webhook-server.js';
import { createChangesQueue, delivery, depth, drainChanges, hookItems, seedTenant, startWebhookStack, type WebhookStack } from './support.js';

describe('the webhook function behind the local webhook server, over real HTTP', () => {
  let env: WebhookStack;
  let server: WebhookServer;
  let queueUrl: string;
  let token: string;

  beforeAll(async () => {
    env = await startWebhookStack();
    queueUrl = await createChangesQueue(env.sqs);
    Object.assign(process.env, {
      [envNames.connectionsTable]: localNames.connectionsTable,
      [envNames.runsTable]: localNames.runsTable,
      [envNames.changesQueueUrl]: queueUrl,
      [envNames.stage]: 'local',
    });
    // The handler reads its configuration when its module loads, as in Lambda.
    const { handler } = await import('../../functions/webhook.js');
    server = createWebhookServer((event) => handler(event));
    await server.start();
    token = await seedTenant(env, 'hook-http');
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    env?.sqs.destroy();
    await env?.stack.stop();
  });

  const send = (path: string, body: string, headers: Record<string, string> = {}, method = 'POST') =>
    fetch(new URL(path, server.url), { method, body: method === 'GET' ? null : body, headers: { 'content-type': 'application/json', ...headers } });

  it('serves the base URL connect registers, the tenant id appended', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/personio\/$/);
  });

  it('queues a delivery and answers 202 as JSON; the replay is a duplicate', async () => {
    // Act
    const first = await send('hook-http', delivery(), { authorization: token });
    const replay = await send('hook-http', delivery(), { authorization: token });

    // Assess
    expect([first.status, first.headers.get('content-type'), await first.json()]).toEqual([202, 'application/json', { status: 'accepted' }]);
    expect([replay.status, await replay.json()]).toEqual([200, { status: 'duplicate' }]);
    expect((await drainChanges(env, queueUrl)).map((c) => [c.tenantId, c.personId])).toEqual([['hook-http', 1234]]);
  });

  it('takes a body sent as bytes (base64 in the event), and refuses a wrong token with the 401 of an unknown tenant', async () => {
    // Act
    const binary = await send('hook-http', delivery({ occurred_at: '2026-11-30T12:00:00Z' }), {
      authorization: token,
      'content-type': 'application/octet-stream',
    });
    const wrong = await send('hook-http', delivery({ occurred_at: '2026-11-30T12:01:00Z' }), { authorization: `${token}x` });
    const unknown = await send('hook-nobody', delivery(), { authorization: token });

    // Assess
    expect(binary.status).toBe(202);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toBe(await unknown.text());
    expect(await drainChanges(env, queueUrl)).toHaveLength(1);
  });

  it('refuses 65,537 bytes with 413 and stores nothing', async () => {
    // Prepare
    const base = delivery({ occurred_at: '2026-11-30T13:00:00Z', meta: { pad: '' } });
    const body = delivery({ occurred_at: '2026-11-30T13:00:00Z', meta: { pad: 'x'.repeat(65_537 - Buffer.byteLength(base)) } });

    // Act
    const answer = await send('hook-http', body, { authorization: token });

    // Assess
    expect(Buffer.byteLength(body)).toBe(65_537);
    expect([answer.status, ((await answer.json()) as { code: string }).code]).toEqual([413, 'payload_too_large']);
    expect(await depth(env, queueUrl)).toBe(0);
    expect((await hookItems(env, 'hook-http')).map((i) => i['occurredAt'])).not.toContain('2026-11-30T13:00:00Z');
  });

  it.each([
    ['GET on the route', '/webhooks/personio/hook-http', 'GET'],
    ['another path', '/tenants/hook-http/connection', 'POST'],
    ['no tenant segment', '/webhooks/personio/', 'POST'],
    ['a nested path', '/webhooks/personio/hook-http/extra', 'POST'],
  ])('answers 404 to %s, as an HTTP API does to an unmatched route', async (_what, path, method) => {
    // Act
    const answer = await send(path, delivery(), { authorization: token }, method);

    // Assess
    expect([answer.status, await answer.json()]).toEqual([404, { message: 'Not Found' }]);
    expect(await depth(env, queueUrl)).toBe(0);
  });
});
