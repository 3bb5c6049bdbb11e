import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { UNLIMITED, call } from './support.js';
import { type Problem, type Webhook, registration, v2, v2Token } from './v2-support.js';

/** The simulator's webhook management: POST, GET, PATCH, DELETE /v2/webhooks and every refusal. */

const TOKEN_VALUE = 'Bearer webhook-token-for-tests-0123456789';

describe('webhook management', () => {
  let sim: PersonioSim;
  let token: string;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 5, ...UNLIMITED });
    token = await v2Token(sim);
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    for (const webhook of sim.webhooks()) await v2(sim, 'DELETE', `/v2/webhooks/${webhook.id}`, token);
  });

  it('registers a webhook and shows it without the token, in the list and by id', async () => {
    // Act
    const created = await v2<Webhook>(sim, 'POST', '/v2/webhooks', token, registration('http://127.0.0.1:9/hooks/a'));
    const list = await v2<{ _data: Webhook[]; _meta: { links: { self: { href: string } } } }>(sim, 'GET', '/v2/webhooks', token);
    const one = await v2<Webhook>(sim, 'GET', `/v2/webhooks/${created.body.id}`, token);

    // Assess
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      url: 'http://127.0.0.1:9/hooks/a',
      description: 'Dado import',
      status: 'ENABLED',
      auth_type: 'TOKEN',
      enabled_events: ['person.created', 'person.updated', 'person.deleted', 'employment.updated', 'employment.terminated', 'employment.deleted'],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    for (const answer of [created, list, one]) expect(answer.text).not.toContain(TOKEN_VALUE);
    expect(list.status).toBe(200);
    expect(list.body._data).toEqual([created.body]);
    expect(list.body._meta.links.self.href).toBe(`${sim.url}/v2/webhooks`);
    expect(one.body).toEqual(created.body);
    expect(sim.webhooks()).toEqual([created.body]);
    expect((await call(`${sim.url}/__sim/webhooks`)).body).toEqual([created.body]);
  });

  it('defaults to DISABLED and TOKEN, and a PATCH enables it', async () => {
    // Act
    const created = await v2<Webhook>(sim, 'POST', '/v2/webhooks', token, {
      url: 'http://127.0.0.1:9/hooks/b',
      description: 'defaults',
      token: TOKEN_VALUE,
      enabled_events: ['person.created'],
    });
    const patched = await v2<Webhook>(sim, 'PATCH', `/v2/webhooks/${created.body.id}`, token, { status: 'ENABLED' });

    // Assess
    expect(created.body).toMatchObject({ status: 'DISABLED', auth_type: 'TOKEN' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: created.body.id, status: 'ENABLED', enabled_events: ['person.created'] });
  });

  it('deletes a webhook with 204, then answers 404 for it', async () => {
    // Prepare
    const created = await v2<Webhook>(sim, 'POST', '/v2/webhooks', token, registration('http://127.0.0.1:9/hooks/c'));

    // Act
    const deleted = await v2(sim, 'DELETE', `/v2/webhooks/${created.body.id}`, token);
    const again = await v2<Problem>(sim, 'DELETE', `/v2/webhooks/${created.body.id}`, token);
    const read = await v2<Problem>(sim, 'GET', `/v2/webhooks/${created.body.id}`, token);

    // Assess
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect(again.status).toBe(404);
    expect(read.status).toBe(404);
    expect(read.body.errors[0]?.title).toBe('Resource not found');
    expect(sim.webhooks()).toEqual([]);
  });

  it.each([
    ['no url', { url: undefined }, 400],
    ['a url that is not http(s)', { url: 'ftp://example.com/x' }, 400],
    ['no description', { description: undefined }, 400],
    ['no enabled_events', { enabled_events: undefined }, 400],
    ['an empty enabled_events', { enabled_events: [] }, 400],
    ['an unknown status', { status: 'ON' }, 400],
    ['TOKEN without a token', { token: undefined }, 400],
    ['custom headers with TOKEN', { custom_headers: { 'X-Auth': 'abc' } }, 400],
    ['CUSTOM with a reserved header', { auth_type: 'CUSTOM', token: undefined, custom_headers: { 'Content-Type': 'x' } }, 400],
    ['CUSTOM with four headers', { auth_type: 'CUSTOM', token: undefined, custom_headers: { 'X-A': '1', 'X-B': '2', 'X-C': '3', 'X-D': '4' } }, 400],
    ['an unknown field', { colour: 'red' }, 400],
    ['an unknown event', { enabled_events: ['person.created', 'person.exploded'] }, 422],
  ])('refuses a registration with %s (%i), storing nothing', async (_name, override, status) => {
    // Act
    const answer = await v2<Problem>(sim, 'POST', '/v2/webhooks', token, registration('http://127.0.0.1:9/hooks/d', override));

    // Assess
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.body.errors).toHaveLength(1);
    expect(sim.webhooks()).toEqual([]);
  });

  it('refuses a body that is not JSON with 400', async () => {
    // Act
    const answer = await v2<Problem>(sim, 'POST', '/v2/webhooks', token, '{"url":');

    // Assess
    expect(answer.status).toBe(400);
  });

  it('refuses a second webhook for the same url with 409, also through a PATCH', async () => {
    // Prepare
    await v2(sim, 'POST', '/v2/webhooks', token, registration('http://127.0.0.1:9/hooks/e'));
    const other = await v2<Webhook>(sim, 'POST', '/v2/webhooks', token, registration('http://127.0.0.1:9/hooks/f'));

    // Act
    const duplicate = await v2<Problem>(sim, 'POST', '/v2/webhooks', token, registration('http://127.0.0.1:9/hooks/e', { description: 'again' }));
    const patched = await v2<Problem>(sim, 'PATCH', `/v2/webhooks/${other.body.id}`, token, { url: 'http://127.0.0.1:9/hooks/e' });

    // Assess
    expect(duplicate.status).toBe(409);
    expect(patched.status).toBe(409);
    expect(sim.webhooks().map((w) => w.url)).toEqual(['http://127.0.0.1:9/hooks/e', 'http://127.0.0.1:9/hooks/f']);
  });

  it('refuses calls without a valid bearer token with 401 and without the scope with 403', async () => {
    // Prepare
    const denied = await startPersonioSim({ employees: 1, credentials: [{ clientId: 'papi-nowh', clientSecret: 'papi-nowh-secret', webhooks: false }] });
    try {
      const deniedToken = await v2Token(denied, { client_id: 'papi-nowh', client_secret: 'papi-nowh-secret' });

      // Act
      const anonymous = await v2<Problem>(sim, 'POST', '/v2/webhooks', null, registration('http://127.0.0.1:9/hooks/g'));
      const bogus = await v2<Problem>(sim, 'GET', '/v2/webhooks', 'papi-not-a-token');
      const create = await v2<Problem>(denied, 'POST', '/v2/webhooks', deniedToken, registration('http://127.0.0.1:9/hooks/g'));
      const list = await v2<Problem>(denied, 'GET', '/v2/webhooks', deniedToken);
      const remove = await v2<Problem>(denied, 'DELETE', '/v2/webhooks/00000000-0000-4000-8000-000000000000', deniedToken);

      // Assess
      expect(anonymous.status).toBe(401);
      expect(bogus.status).toBe(401);
      expect(create.status).toBe(403);
      expect(create.body.errors[0]).toMatchObject({ title: 'Insufficient access scope', detail: 'Client scope insufficient to access resource' });
      expect(list.status).toBe(403);
      expect(remove.status).toBe(403);
      expect(denied.webhooks()).toEqual([]);
      expect(sim.webhooks()).toEqual([]);
    } finally {
      await denied.close();
    }
  });

  it('counts v2 calls apart from v1 traffic', async () => {
    // Prepare
    sim.resetStats();

    // Act
    await v2(sim, 'GET', '/v2/webhooks', token);
    await v2(sim, 'GET', '/v2/persons', token);

    // Assess
    expect(sim.stats()).toMatchObject({ requests: 0, byStatus: {}, v2: { requests: 2, webhookCalls: 1, byStatus: { 200: 1, 404: 1 } } });
  });
});
