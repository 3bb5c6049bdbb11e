import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PersonioV2Client, WEBHOOKS_WRITE_SCOPE } from '../../lib/personio/v2/client.js';
import { registerSecret } from '../helpers/leak-sweep.js';
import { rejection, renderings } from './support.js';

/** A tiny Personio v2 on node:http: what each test sets it to answer, and what it was sent. */
const CLIENT = { clientId: 'v2-client-id', clientSecret: 'v2-s3cret-must-not-leak-0001' };
const ACCESS = 'v2-access-token-must-not-leak-0002';
const HOOK_TOKEN = 'hook-token-must-not-leak-0003';
registerSecret(CLIENT.clientSecret, 'v2 client secret', CLIENT.clientId);
registerSecret(ACCESS, 'v2 access token');
registerSecret(HOOK_TOKEN, 'webhook token');

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Responder = (req: Received) => { status: number; body?: unknown } | 'hang';

describe('PersonioV2Client against a fake Personio v2', () => {
  let server: Server;
  let base: string;
  let received: Received[];
  let answer: Responder;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
        received.push(r);
        const out = answer(r);
        if (out === 'hang') return;
        res.writeHead(out.status, { 'content-type': 'application/json' });
        res.end(out.body === undefined ? '' : JSON.stringify(out.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received = [];
    answer = personio({});
  });

  /** Answers like Personio: a token with `scope`, and webhook management. */
  function personio(options: { scope?: string | null; create?: number; list?: unknown; remove?: number }): Responder {
    return (req) => {
      if (req.path === '/v2/auth/token') {
        const form = new URLSearchParams(req.body);
        if (form.get('client_secret') !== CLIENT.clientSecret) return { status: 401, body: { errors: [{ title: 'Unauthorized' }] } };
        const scope = options.scope === undefined ? `personio:persons:read ${WEBHOOKS_WRITE_SCOPE}` : options.scope;
        return { status: 200, body: { access_token: ACCESS, token_type: 'Bearer', expires_in: 3600, ...(scope === null ? {} : { scope }) } };
      }
      if (req.headers.authorization !== `Bearer ${ACCESS}`) return { status: 401 };
      if (req.method === 'POST' && req.path === '/v2/webhooks') {
        const sent = JSON.parse(req.body) as Record<string, unknown>;
        if (options.create && options.create !== 201)
          return { status: options.create, body: { errors: [{ detail: `refused token ${String(sent['token'])}` }] } };
        return { status: 201, body: { id: 'b7f3c1de-0000-4000-8000-000000000001', ...sent, token: undefined } };
      }
      if (req.method === 'GET' && req.path === '/v2/webhooks') return { status: 200, body: options.list ?? { _data: [] } };
      if (req.method === 'DELETE') return { status: options.remove ?? 204 };
      return { status: 404 };
    };
  }

  const client = (overrides: Partial<ConstructorParameters<typeof PersonioV2Client>[0]> = {}) =>
    new PersonioV2Client({ baseUrl: base, appId: 'DADO', credentials: CLIENT, timeoutMs: 2_000, ...overrides });

  it('gets a token with form-encoded client credentials and answers the granted scopes', async () => {
    // Act
    const { scopes } = await client().authenticate();

    // Assess
    expect(scopes).toEqual(['personio:persons:read', WEBHOOKS_WRITE_SCOPE]);
    expect(received).toHaveLength(1);
    expect(received[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(received[0]?.headers['x-personio-app-id']).toBe('DADO');
    expect(Object.fromEntries(new URLSearchParams(received[0]?.body))).toEqual({
      grant_type: 'client_credentials',
      ...{ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret },
    });
  });

  it('answers null scopes when Personio does not list them, and refused credentials as invalid_credentials without the secret', async () => {
    // Prepare
    answer = personio({ scope: null });

    // Act
    const { scopes } = await client().authenticate();
    const error = await rejection(client({ credentials: { ...CLIENT, clientSecret: 'wrong-s3cret-not-in-output' } }).authenticate());

    // Assess
    expect(scopes).toBeNull();
    expect(error.code).toBe('invalid_credentials');
    for (const text of renderings(error)) expect(text).not.toContain('wrong-s3cret-not-in-output');
  });

  it('registers an enabled TOKEN webhook with the events, on a trailing /v1 root too, with one token request', async () => {
    // Act
    const hook = await client({ baseUrl: `${base}/v1/` }).createWebhook({
      url: 'https://hooks.example/webhooks/personio/acme',
      description: 'Dado',
      token: HOOK_TOKEN,
      enabledEvents: ['person.created', 'person.updated'],
    });

    // Assess
    expect(hook).toMatchObject({ id: 'b7f3c1de-0000-4000-8000-000000000001', url: 'https://hooks.example/webhooks/personio/acme' });
    const post = received.find((r) => r.method === 'POST' && r.path === '/v2/webhooks');
    expect(post?.headers.authorization).toBe(`Bearer ${ACCESS}`);
    expect(JSON.parse(post?.body ?? '{}')).toEqual({
      url: 'https://hooks.example/webhooks/personio/acme',
      description: 'Dado',
      status: 'ENABLED',
      auth_type: 'TOKEN',
      token: HOOK_TOKEN,
      enabled_events: ['person.created', 'person.updated'],
    });
    expect(received.filter((r) => r.path === '/v2/auth/token')).toHaveLength(1);
  });

  it('says forbidden on a 403 and never echoes the webhook token Personio repeated, nor retries the create', async () => {
    // Prepare
    answer = personio({ create: 403 });

    // Act
    const error = await rejection(client().createWebhook({ url: 'https://h.example/x', description: 'Dado', token: HOOK_TOKEN, enabledEvents: [] }));

    // Assess
    expect([error.code, error.status]).toEqual(['forbidden', 403]);
    expect(error.personioMessage).toBe('refused token [redacted]');
    for (const text of renderings(error)) for (const secret of [HOOK_TOKEN, ACCESS, CLIENT.clientSecret]) expect(text).not.toContain(secret);
    expect(received.filter((r) => r.method === 'POST' && r.path === '/v2/webhooks')).toHaveLength(1);
  });

  it('does not retry a create that failed with 503 (it may have been registered)', async () => {
    // Prepare
    answer = personio({ create: 503 });

    // Act
    const error = await rejection(client().createWebhook({ url: 'https://h.example/x', description: 'Dado', token: HOOK_TOKEN, enabledEvents: [] }));

    // Assess
    expect(error.code).toBe('unavailable');
    expect(received.filter((r) => r.method === 'POST' && r.path === '/v2/webhooks')).toHaveLength(1);
  });

  it('lists webhooks from a _data envelope, a data envelope or a bare array', async () => {
    // Prepare
    const hook = { id: 'h-1', url: 'https://h.example/1', status: 'ENABLED', auth_type: 'TOKEN', enabled_events: ['person.created'] };
    const found: unknown[] = [];

    // Act
    for (const list of [{ _data: [hook], _meta: { links: { next: { href: null } } } }, { data: [hook] }, [hook]]) {
      answer = personio({ list });
      found.push(await client().listWebhooks());
    }

    // Assess
    expect(found).toEqual([[expect.objectContaining({ id: 'h-1' })], [expect.objectContaining({ id: 'h-1' })], [expect.objectContaining({ id: 'h-1' })]]);
  });

  it('follows a next-page link on the same Personio, and never one to another host (the token stays home)', async () => {
    // Prepare
    answer = (req) => {
      if (req.path === '/v2/webhooks')
        return { status: 200, body: { _data: [{ id: 'a', url: 'u' }], _meta: { links: { next: { href: `${base}/v2/webhooks?cursor=2` } } } } };
      if (req.path === '/v2/webhooks?cursor=2')
        return {
          status: 200,
          body: { _data: [{ id: 'b', url: 'u' }], _meta: { links: { next: { href: 'https://elsewhere.example/v2/webhooks?cursor=3' } } } },
        };
      return personio({})(req);
    };

    // Act
    const hooks = await client().listWebhooks();

    // Assess
    expect(hooks.map((h) => h.id)).toEqual(['a', 'b']);
    expect(received.map((r) => r.path)).toEqual(['/v2/auth/token', '/v2/webhooks', '/v2/webhooks?cursor=2']);
  });

  it('deletes a webhook, and takes a 404 as already gone', async () => {
    // Act
    const deleted = await client().deleteWebhook('h-1');
    answer = personio({ remove: 404 });
    const gone = await client().deleteWebhook('h-2');

    // Assess
    expect([deleted, gone]).toEqual([true, false]);
    expect(received.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual(['/v2/webhooks/h-1', '/v2/webhooks/h-2']);
  });

  it('retries a safe call once after a 503, and a failing one ends as unavailable', async () => {
    // Prepare
    let failures = 1;
    answer = (req) => (req.method === 'DELETE' && failures-- > 0 ? { status: 503 } : personio({})(req));

    // Act
    const deleted = await client().deleteWebhook('h-1');
    answer = (req) => (req.method === 'DELETE' ? { status: 502 } : personio({})(req));
    const error = await rejection(client().deleteWebhook('h-1'));

    // Assess
    expect(deleted).toBe(true);
    expect(error.code).toBe('unavailable');
  });

  it('stops at the deadline: a Personio that does not answer fails as timeout within the budget', async () => {
    // Prepare
    answer = (req) => (req.path === '/v2/auth/token' ? 'hang' : personio({})(req));
    const started = Date.now();

    // Act
    const error = await rejection(client({ deadline: Date.now() + 300, timeoutMs: 10_000 }).authenticate());

    // Assess
    expect(error.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('says unavailable when Personio cannot be reached', async () => {
    // Act
    const error = await rejection(client({ baseUrl: 'http://127.0.0.1:9' }).listWebhooks());

    // Assess
    expect(error.code).toBe('unavailable');
  });
});
