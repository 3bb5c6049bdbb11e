import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../lib/connect/api.js';
import type { ConnectResult, ConnectionView, DisconnectResult } from '../../lib/connect/connect-tenant.js';
import type { ConnectDeps } from '../../lib/connect/deps.js';
import type { ScheduleResult } from '../../lib/connect/schedule.js';
import { clearTokenCache } from '../../lib/personio/client.js';
import { PersonioV2Client } from '../../lib/personio/v2/client.js';
import type { Connection } from '../../lib/tenants/connections.js';
import { handledEvents } from '../../lib/webhooks/change.js';
import { hashToken } from '../../lib/webhooks/token.js';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { DEFAULT_SIM_CREDENTIAL } from '../../local/personio-sim/index.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { apiCaller, asLocalAdmin, captureOutput, connectDeps, importThroughApi, specViolations } from '../helpers/connect-support.js';
import { registerSecret } from '../helpers/leak-sweep.js';

const CREDENTIALS = { clientId: DEFAULT_SIM_CREDENTIAL.clientId, clientSecret: DEFAULT_SIM_CREDENTIAL.clientSecret };
const OTHER = { clientId: 'sim-other-client', clientSecret: 'sim-other-s3cret-0042' };

/** Answers a Personio call differently (a Response, or never), or passes it on (undefined). */
type Fault = (method: string, path: string) => Response | 'hang' | undefined;

describe('webhook registration at connect', () => {
  let env: LocalEnvironment;
  let receiver: Server;
  let base: string;
  const deliveries: { path: string; authorization: string | undefined }[] = [];
  const answers: string[] = [];
  /** Every webhook token a test read from a secret (replaced ones too). */
  const tokens = new Set<string>();
  const secrets = new SecretsManagerClient({});
  const db = createDocumentClient();
  const output = captureOutput();

  beforeAll(async () => {
    // Where Personio delivers: a receiver that acknowledges everything and records what it got.
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        deliveries.push({ path: req.url ?? '', authorization: req.headers.authorization });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/personio/`;
    env = await startLocalEnvironment({ simulator: { employees: 12, credentials: [CREDENTIALS, OTHER] } });
    env.eventSource.start();
  }, 60_000);

  afterAll(async () => {
    output.stop();
    await env?.stack.lambda.idle();
    await env?.stop();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  beforeEach(() => {
    clearTokenCache();
    env.sim!.setKnobs({ webhooksDeniedClientIds: [] });
  });

  /** The deps the handler wires, with the webhook URL configured and Personio's answers optionally altered. */
  function deps(options: { fault?: Fault; baseUrl?: string | undefined; now?: () => Date } = {}): ConnectDeps {
    const fault = options.fault;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const request = new Request(input, init);
      const altered = fault?.(request.method, new URL(request.url).pathname);
      if (altered === 'hang') return new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
      return altered ?? globalThis.fetch(request);
    };
    return connectDeps({
      personio: { baseUrl: env.personio.url, appId: 'DADO', fetch },
      webhooks: { baseUrl: 'baseUrl' in options ? options.baseUrl : base },
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** The connect API through handleApiRequest, every answer checked against docs/openapi.yaml and kept for the leak search. */
  async function call<T>(method: string, path: string, body?: unknown, using: ConnectDeps = deps()): Promise<{ status: number; body: T }> {
    const response = await handleApiRequest(using, { method, path, body: body === undefined ? undefined : JSON.stringify(body), ...asLocalAdmin });
    answers.push(JSON.stringify(response.body));
    expect(specViolations(method, path, response.status, response.body)).toEqual([]);
    return { status: response.status, body: response.body as T };
  }

  const connect = (tenantId: string, using?: ConnectDeps, credentials: object = CREDENTIALS) =>
    call<ConnectResult>('PUT', `/tenants/${tenantId}/personio`, credentials, using);
  const status = (tenantId: string) => call<ConnectionView>('GET', `/tenants/${tenantId}/personio`);
  const hooksAt = (tenantId: string) => env.sim!.webhooks().filter((w) => w.url === `${base}${tenantId}`);
  const scheduleOf = (tenantId: string) => env.stack.scheduler.schedules().find((s) => s.Name === `personio-${tenantId}`)?.ScheduleExpression;
  const connection = async (tenantId: string) => (await env.connections.get(tenantId)) as Connection;

  /** The tenant's secret as stored; its webhook token becomes a secret no output may contain. */
  async function secretOf(tenantId: string): Promise<{ clientId: string; clientSecret: string; webhookToken?: string }> {
    const text = (await secrets.send(new GetSecretValueCommand({ SecretId: `${localNames.secretPrefix}${tenantId}` }))).SecretString ?? '{}';
    const stored = JSON.parse(text) as { clientId: string; clientSecret: string; webhookToken?: string };
    if (stored.webhookToken && !tokens.has(stored.webhookToken)) {
      tokens.add(stored.webhookToken);
      registerSecret(stored.webhookToken, `webhook token of ${tenantId}`);
    }
    return stored;
  }

  it('registers an enabled TOKEN webhook for the tenant with every event, keeps the token in the secret and only its hash on the connection, and reconciles daily', async () => {
    // Act
    const response = await connect('hook-on');
    const view = await status('hook-on');

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.webhooks).toEqual({ status: 'active', reason: null });
    expect(response.body.schedule).toMatchObject({ every: 'daily', expression: 'rate(1 day)', chosenByAdmin: false });
    expect(scheduleOf('hook-on')).toBe('rate(1 day)');
    const [hook, ...more] = hooksAt('hook-on');
    expect(more).toEqual([]);
    expect(hook).toMatchObject({ status: 'ENABLED', auth_type: 'TOKEN' });
    expect([...(hook?.enabled_events ?? [])].sort()).toEqual([...handledEvents].sort());
    const { webhookToken } = await secretOf('hook-on');
    expect(webhookToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await connection('hook-on');
    expect(stored.webhooks).toEqual({
      status: 'active',
      reason: null,
      webhookId: hook?.id,
      tokenHash: hashToken(webhookToken ?? ''),
      companyId: null,
      updatedAt: expect.any(String),
    });
    expect(JSON.stringify(stored)).not.toContain(webhookToken);
    expect(view.body.webhooks).toEqual({ status: 'active', reason: null });
  });

  it('hands Personio the token the receiver will be shown: a delivery carries it verbatim', async () => {
    // Prepare
    await connect('hook-deliver');
    const { webhookToken } = await secretOf('hook-deliver');
    const [employee] = env.sim!.employees();
    deliveries.length = 0;

    // Act: a change in Personio
    env.sim!.updateEmployee(employee!.id, { first_name: 'Changed' });
    await env.sim!.webhooksIdle();

    // Assess
    const ours = deliveries.filter((d) => d.path === '/webhooks/personio/hook-deliver');
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((d) => d.authorization === webhookToken)).toBe(true);
  });

  it('without the Webhooks permission: unavailable with a reason naming it, hourly imports, and imports still work', async () => {
    // Prepare: the credential's v2 tokens lack the webhook scopes
    env.sim!.setKnobs({ webhooksDeniedClientIds: [CREDENTIALS.clientId] });

    // Act
    const response = await connect('hook-noscope');
    const run = await importThroughApi(
      () => env,
      apiCaller(() => env, answers),
    )('hook-noscope');

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.webhooks.status).toBe('unavailable');
    expect(response.body.webhooks.reason).toContain('personio:webhooks:write');
    expect(response.body.schedule).toMatchObject({ every: 'hourly', chosenByAdmin: false });
    expect(scheduleOf('hook-noscope')).toBe('rate(1 hour)');
    expect(hooksAt('hook-noscope')).toEqual([]);
    expect((await secretOf('hook-noscope')).webhookToken).toBeUndefined();
    expect((await connection('hook-noscope')).webhooks).toMatchObject({ status: 'unavailable', webhookId: null, tokenHash: null });
    expect(run).toMatchObject({ status: 'completed', created: 12 });
  });

  it('takes a 403 on registration as the missing permission too (when the token does not list its scopes)', async () => {
    // Act: Personio refuses the registration although the token said nothing against it
    const response = await connect(
      'hook-403',
      deps({
        fault: (method, path) =>
          method === 'POST' && path === '/v2/webhooks' ? Response.json({ errors: [{ title: 'Forbidden' }] }, { status: 403 }) : undefined,
      }),
    );

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.webhooks).toMatchObject({ status: 'unavailable', reason: expect.stringContaining('personio:webhooks:write') });
    expect(response.body.schedule.every).toBe('hourly');
  });

  it('when Personio fails the registration, connect still succeeds: unavailable, reconnect to try again, hourly', async () => {
    // Act
    const down = await connect(
      'hook-5xx',
      deps({ fault: (method, path) => (method === 'POST' && path === '/v2/webhooks' ? new Response('', { status: 503 }) : undefined) }),
    );
    const noToken = await connect(
      'hook-5xx-auth',
      deps({ fault: (_method, path) => (path === '/v2/auth/token' ? new Response('', { status: 502 }) : undefined) }),
    );

    // Assess
    for (const response of [down, noToken]) {
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        status: 'connected',
        webhooks: { status: 'unavailable', reason: expect.stringContaining('reconnect to try again') },
      });
      expect(response.body.schedule.every).toBe('hourly');
    }
    expect((await connection('hook-5xx')).webhooks).toMatchObject({ status: 'unavailable', tokenHash: null });
  });

  it('keeps every Personio call inside the request budget: a registration that never answers ends with the budget', async () => {
    // Prepare: 19.2 of the 20 s budget already spent
    const late = () => new Date(Date.now() - 19_200);
    const started = Date.now();

    // Act
    const response = await connect(
      'hook-slow',
      deps({ now: late, fault: (method, path) => (method === 'POST' && path === '/v2/webhooks' ? 'hang' : undefined) }),
    );

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.webhooks.status).toBe('unavailable');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('says so when the deployment has no webhook URL', async () => {
    // Act
    const response = await connect('hook-nourl', deps({ baseUrl: undefined }));

    // Assess
    expect(response.body.webhooks).toEqual({ status: 'unavailable', reason: expect.stringContaining('WEBHOOK_BASE_URL') });
    expect(response.body.schedule.every).toBe('hourly');
  });

  it('a reconnect replaces the webhook: a new one with a new token, the old one deleted', async () => {
    // Prepare
    await connect('hook-re');
    const first = await connection('hook-re');
    const firstToken = (await secretOf('hook-re')).webhookToken;

    // Act
    const response = await connect('hook-re');

    // Assess
    const second = await connection('hook-re');
    const secondToken = (await secretOf('hook-re')).webhookToken;
    expect(response.body.webhooks.status).toBe('active');
    expect(second.webhooks?.webhookId).not.toBe(first.webhooks?.webhookId);
    expect(secondToken).not.toBe(firstToken);
    expect(second.webhooks?.tokenHash).toBe(hashToken(secondToken ?? ''));
    expect(hooksAt('hook-re').map((w) => w.id)).toEqual([second.webhooks?.webhookId]);
  });

  it('clears a webhook a crash left for the tenant’s URL, so only the new one stays', async () => {
    // Prepare: registered in Personio, but never recorded on a connection
    const v2 = new PersonioV2Client({ baseUrl: env.personio.url, appId: 'DADO', credentials: CREDENTIALS });
    const stray = await v2.createWebhook({ url: `${base}hook-stray`, description: 'left', token: 'stray-token-0123456789', enabledEvents: ['person.created'] });

    // Act
    const response = await connect('hook-stray');

    // Assess
    expect(response.body.webhooks.status).toBe('active');
    const hooks = hooksAt('hook-stray');
    expect(hooks.map((w) => w.id)).toEqual([(await connection('hook-stray')).webhooks?.webhookId]);
    expect(hooks[0]?.id).not.toBe(stray.id);
  });

  it('keeps the recorded company on a reconnect with the same client, and forgets it with another client', async () => {
    // Prepare: the receiver recorded the company from a delivery
    await connect('hook-company');
    const record = (id: string) =>
      db.send(
        new UpdateCommand({
          TableName: localNames.connectionsTable,
          Key: { tenantId: 'hook-company' },
          UpdateExpression: 'SET webhooks.companyId = :c',
          ExpressionAttributeValues: { ':c': id },
        }),
      );
    await record('10001');

    // Act
    await connect('hook-company');
    const same = await connection('hook-company');
    const other = await connect('hook-company', deps(), OTHER);

    // Assess
    expect(same.webhooks?.companyId).toBe('10001');
    expect(other.body.webhooks.status).toBe('active');
    const now = await connection('hook-company');
    expect(now.webhooks?.companyId).toBeNull();
    expect(hooksAt('hook-company').map((w) => w.id)).toEqual([now.webhooks?.webhookId]);
  });

  it('disconnect deletes the webhook and clears the token hash; the status then shows no webhooks', async () => {
    // Prepare
    await connect('hook-off');

    // Act
    const response = await call<DisconnectResult>('DELETE', '/tenants/hook-off/personio');
    const view = await status('hook-off');

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.message).toContain('the Personio webhook');
    expect(hooksAt('hook-off')).toEqual([]);
    expect((await connection('hook-off')).webhooks).toMatchObject({ status: 'unavailable', webhookId: null, tokenHash: null });
    expect(view.body.webhooks).toBeNull();
    const audit = await call<{ entries: { action: string; details: Record<string, unknown> }[] }>('GET', '/tenants/hook-off/personio/audit');
    expect(audit.body.entries.map((e) => [e.action, e.details['webhooks']])).toEqual([
      ['disconnected', 'deleted'],
      ['connected', 'active'],
    ]);
  });

  it('disconnect completes when Personio cannot delete the webhook, and says what is left', async () => {
    // Prepare
    await connect('hook-stuck');
    const { webhookId } = (await connection('hook-stuck')).webhooks ?? {};

    // Act
    const response = await call<DisconnectResult>(
      'DELETE',
      '/tenants/hook-stuck/personio',
      undefined,
      deps({ fault: (method) => (method === 'DELETE' ? new Response('', { status: 503 }) : undefined) }),
    );

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.message).toContain(`webhook ${webhookId} could not be deleted`);
    expect(await connection('hook-stuck')).toMatchObject({ status: 'disconnected', webhooks: { status: 'unavailable', webhookId, tokenHash: null } });
  });

  it('an admin’s own interval survives switches between the defaults; a tenant on a default follows the webhooks', async () => {
    // Prepare: both daily with webhooks; one admin picks every 6 hours, the other only pauses and resumes
    await connect('hook-custom');
    await connect('hook-default');
    const chosen = await call<ScheduleResult>('PUT', '/tenants/hook-custom/personio/schedule', { enabled: true, every: 'every-6-hours' });
    await call<ScheduleResult>('PUT', '/tenants/hook-default/personio/schedule', { enabled: false });
    const resumed = await call<ScheduleResult>('PUT', '/tenants/hook-default/personio/schedule', { enabled: true });

    // Act: the permission is withdrawn and both reconnect
    env.sim!.setKnobs({ webhooksDeniedClientIds: [CREDENTIALS.clientId] });
    const custom = await connect('hook-custom');
    const defaulted = await connect('hook-default');
    env.sim!.setKnobs({ webhooksDeniedClientIds: [] });
    const back = await connect('hook-default');

    // Assess
    expect(chosen.body.schedule).toMatchObject({ every: 'every-6-hours', chosenByAdmin: true });
    expect(resumed.body.schedule).toMatchObject({ every: 'daily', chosenByAdmin: false });
    expect(custom.body.schedule).toMatchObject({ every: 'every-6-hours', chosenByAdmin: true });
    expect(scheduleOf('hook-custom')).toBe('rate(6 hours)');
    expect(defaulted.body.schedule).toMatchObject({ every: 'hourly', chosenByAdmin: false });
    expect(back.body.schedule).toMatchObject({ every: 'daily', chosenByAdmin: false });
    expect(scheduleOf('hook-default')).toBe('rate(1 day)');
  });

  it('no webhook token in any answer, audit entry or log line', async () => {
    // Prepare: the tenants above stored tokens (and replaced some); their audit trails too
    const tenants = ['hook-on', 'hook-deliver', 'hook-re', 'hook-stray', 'hook-company', 'hook-off', 'hook-custom', 'hook-default'];
    for (const tenant of tenants) {
      await secretOf(tenant).catch(() => undefined);
      answers.push(JSON.stringify((await call('GET', `/tenants/${tenant}/personio/audit`)).body));
    }
    const items = await Promise.all(tenants.map((tenant) => connection(tenant)));

    // Assess
    // One per tenant whose secret still holds one (hook-off's is deleted, hook-custom's last connect had none), and more.
    expect(tokens.size).toBeGreaterThanOrEqual(tenants.length - 2);
    const texts = [...answers, output.text(), JSON.stringify(items)];
    expect([...tokens].filter((token) => texts.some((text) => text.includes(token)))).toEqual([]);
  });
});
