import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { UNLIMITED, call } from './support.js';
import { type Receiver, startReceiver } from './receiver.js';
import { type Webhook, registration, v2, v2Token } from './v2-support.js';

/** The simulator's webhook deliveries: which change fires which event, the body and headers, and the retry rules. */

const TOKEN_VALUE = 'Bearer webhook-token-for-tests-0123456789';
const ALL_EVENTS = [
  'person.created',
  'person.updated',
  'person.deleted',
  'employment.created',
  'employment.updated',
  'employment.deleted',
  'employment.started',
  'employment.terminated',
];
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('webhook delivery', () => {
  let sim: PersonioSim;
  let token: string;
  let receiver: Receiver;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 10, ...UNLIMITED, companyId: 'acme-77', ackTimeoutMs: 250, webhookRetryDelaysMs: [40, 40, 40] });
    token = await v2Token(sim);
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    for (const webhook of sim.webhooks()) await v2(sim, 'DELETE', `/v2/webhooks/${webhook.id}`, token);
    await sim.webhooksIdle();
    sim.clearWebhookDeliveries();
    sim.setKnobs({ ackTimeoutMs: 250, webhookRetryDelaysMs: [40, 40, 40], duplicateDeliveries: 0, shuffleDeliveries: false });
    await receiver.close();
  });

  async function register(overrides: Record<string, unknown> = {}): Promise<Webhook> {
    const created = await v2<Webhook>(sim, 'POST', '/v2/webhooks', token, registration(`${receiver.url}/hook`, { enabled_events: ALL_EVENTS, ...overrides }));
    expect(created.status).toBe(201);
    return created.body;
  }

  const events = (): [string, unknown][] => receiver.received.map((r) => [r.body['event_name'] as string, r.body['payload']]);
  const someEmployee = (): number => (sim.employees()[3] as { id: number }).id;

  it('delivers person.created and employment.created for an added employee, with the token and a dataless body', async () => {
    // Prepare
    const webhook = await register();

    // Act
    const [id] = sim.addEmployees(1);
    await sim.webhooksIdle();

    // Assess
    expect(receiver.received).toHaveLength(2);
    const [person, employment] = receiver.received;
    expect(person?.headers['authorization']).toBe(TOKEN_VALUE);
    expect(person?.headers['content-type']).toBe('application/json');
    expect(person?.body).toEqual({
      company_id: 'acme-77',
      event_name: 'person.created',
      occurred_at: expect.stringMatching(ISO_MS),
      payload: { person: { id: String(id) } },
      meta: {},
    });
    expect(employment?.body).toMatchObject({ event_name: 'employment.created', payload: { id: `e-${id}`, person: { id: String(id) } } });
    expect(sim.webhookDeliveries()).toEqual([
      expect.objectContaining({
        webhookId: webhook.id,
        event_name: 'person.created',
        payload: { person: { id: String(id) } },
        attempt: 1,
        try: 1,
        status: 204,
        error: null,
        ok: true,
      }),
      expect.objectContaining({ webhookId: webhook.id, event_name: 'employment.created', attempt: 1, try: 1, status: 204, ok: true }),
    ]);
  });

  it.each([
    ['a name', { first_name: 'Renée' }, [['person.updated', 'person']]],
    ['a custom attribute', { dynamic_24407: 'Prof. Dr' }, [['person.updated', 'person']]],
    ['the position', { position: 'Chief Webhook Officer' }, [['employment.updated', 'employment']]],
    [
      'the department and the e-mail',
      { department: null, email: 'moved@example.com' },
      [
        ['person.updated', 'person'],
        ['employment.updated', 'employment'],
      ],
    ],
    ['the salary', { fix_salary: 123_456 }, []],
  ])('fires only the matching events when an update changes %s', async (_name, changes, expected) => {
    // Prepare
    await register();
    const id = someEmployee();
    const payloads = { person: { person: { id: String(id) } }, employment: { id: `e-${id}`, person: { id: String(id) } } };

    // Act
    sim.updateEmployee(id, changes);
    await sim.webhooksIdle();

    // Assess
    expect(events()).toEqual(expected.map(([event, kind]) => [event, payloads[kind as 'person' | 'employment']]));
  });

  it('fires nothing for an update that sets the values an employee already has', async () => {
    // Prepare
    await register();
    const employee = sim.employees()[3] as { id: number; attributes: Record<string, { value: unknown }> };

    // Act
    sim.updateEmployee(employee.id, { last_name: employee.attributes['last_name']?.value, position: employee.attributes['position']?.value });
    await sim.webhooksIdle();

    // Assess
    expect(receiver.received).toEqual([]);
  });

  it('delivers employment.updated and employment.terminated for a termination through the control endpoint', async () => {
    // Prepare
    await register();
    const [id] = sim.addEmployees(1);
    await sim.webhooksIdle();
    receiver.received.length = 0;

    // Act
    const answer = await call(`${sim.url}/__sim/employees`, { method: 'POST', body: JSON.stringify({ terminate: { id, date: '2026-12-31' } }) });
    const idle = await call<{ idle: boolean; pending: number }>(`${sim.url}/__sim/webhooks/idle?timeoutMs=5000`);

    // Assess
    expect(answer.status).toBe(200);
    expect(idle.body).toEqual({ idle: true, pending: 0 });
    expect(events()).toEqual([
      ['employment.updated', { id: `e-${id}`, person: { id: String(id) } }],
      ['employment.terminated', { id: `e-${id}`, person: { id: String(id) } }],
    ]);
    const employee = sim.employees().find((e) => e.id === id);
    expect(employee?.status).toBe('inactive');
    expect(employee?.attributes['termination_date']).toMatchObject({ value: '2026-12-31T00:00:00+00:00' });
  });

  it('delivers person.deleted and employment.deleted for a removed employee, and nothing for an unknown id', async () => {
    // Prepare
    await register();
    const [id] = sim.addEmployees(1);
    await sim.webhooksIdle();
    receiver.received.length = 0;

    // Act
    sim.removeEmployees([id as number, 999_999]);
    await sim.webhooksIdle();

    // Assess
    expect(events()).toEqual([
      ['person.deleted', { person: { id: String(id) } }],
      ['employment.deleted', { id: `e-${id}`, person: { id: String(id) } }],
    ]);
  });

  it('delivers only subscribed events, nothing to a DISABLED webhook, and no Authorization with auth_type NONE', async () => {
    // Prepare
    await register({ enabled_events: ['person.deleted'], auth_type: 'NONE', token: undefined });
    await v2(sim, 'POST', '/v2/webhooks', token, registration(`${receiver.url}/disabled`, { status: 'DISABLED', enabled_events: ALL_EVENTS }));

    // Act
    const [id] = sim.addEmployees(1);
    sim.removeEmployees([id as number]);
    await sim.webhooksIdle();

    // Assess
    expect(receiver.received.map((r) => [r.path, r.body['event_name']])).toEqual([['/hook', 'person.deleted']]);
    expect(receiver.received[0]?.headers['authorization']).toBeUndefined();
  });

  it('sends the custom headers of a CUSTOM webhook, and emits a chosen event through the control endpoint', async () => {
    // Prepare
    await register({ auth_type: 'CUSTOM', token: undefined, custom_headers: { 'X-Dado-Key': 'custom-secret-value-42' } });

    // Act
    const answer = await call(`${sim.url}/__sim/webhook-events`, { method: 'POST', body: JSON.stringify({ event: 'employment.started', id: 1234 }) });
    const unknown = await call(`${sim.url}/__sim/webhook-events`, { method: 'POST', body: JSON.stringify({ event: 'person.exploded', id: 1234 }) });
    await sim.webhooksIdle();

    // Assess
    expect(answer.status).toBe(200);
    expect(unknown.status).toBe(400);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.headers['x-dado-key']).toBe('custom-secret-value-42');
    expect(receiver.received[0]?.body).toMatchObject({ event_name: 'employment.started', payload: { id: 'e-1234', person: { id: '1234' } } });
  });

  it('retries after 500s, two fast tries per attempt, until the receiver acknowledges', async () => {
    // Prepare
    await register({ enabled_events: ['person.updated'] });
    receiver.script({ status: 500 }, { status: 500 }, { status: 503 });

    // Act
    sim.updateEmployee(someEmployee(), { first_name: 'Retry' });
    await sim.webhooksIdle();

    // Assess
    const tries = sim.webhookDeliveries();
    expect(tries.map((t) => [t.attempt, t.try, t.status, t.ok])).toEqual([
      [1, 1, 500, false],
      [1, 2, 500, false],
      [2, 1, 503, false],
      [2, 2, 204, true],
    ]);
    expect(new Set(tries.map((t) => t.deliveryId)).size).toBe(1);
    expect(Date.parse(tries[2]?.at ?? '') - Date.parse(tries[1]?.at ?? '')).toBeGreaterThanOrEqual(35);
    expect(new Set(receiver.received.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(sim.stats().webhooks).toMatchObject({ pending: 0 });
  });

  it('counts a 2xx after the acknowledgement timeout as a failure and retries it', async () => {
    // Prepare
    await register({ enabled_events: ['person.updated'] });
    receiver.script({ status: 200, delayMs: 600 });

    // Act
    sim.updateEmployee(someEmployee(), { first_name: 'Slow' });
    await sim.webhooksIdle();

    // Assess
    expect(sim.webhookDeliveries().map((t) => [t.attempt, t.try, t.status, t.error, t.ok])).toEqual([
      [1, 1, null, 'timeout', false],
      [1, 2, 204, null, true],
    ]);
    expect(sim.webhookDeliveries()[0]?.durationMs).toBeGreaterThanOrEqual(240);
  });

  it.each([
    [400, 'a 4xx'],
    [410, 'a 410'],
    [501, 'a 501'],
    [302, 'a redirect'],
  ])('does not retry %i (%s)', async (status) => {
    // Prepare
    await register({ enabled_events: ['person.updated'] });
    receiver.script({ status });
    sim.resetStats();

    // Act
    sim.updateEmployee(someEmployee(), { first_name: `Refused ${status}` });
    await sim.webhooksIdle();

    // Assess
    expect(receiver.received).toHaveLength(1);
    expect(sim.webhookDeliveries().map((t) => [t.status, t.ok])).toEqual([[status, false]]);
    expect(sim.stats().webhooks).toEqual({ attempts: 1, delivered: 0, failed: 1, pending: 0 });
  });

  it('gives up after the last attempt: two tries for the first attempt and for each retry delay', async () => {
    // Prepare
    await register({ enabled_events: ['person.updated'] });
    receiver.fallback = { status: 502 };
    sim.resetStats();

    // Act
    sim.updateEmployee(someEmployee(), { first_name: 'Down' });
    await sim.webhooksIdle();

    // Assess
    expect(receiver.received).toHaveLength(8);
    expect(sim.webhookDeliveries().map((t) => t.attempt)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(sim.stats().webhooks).toEqual({ attempts: 8, delivered: 0, failed: 1, pending: 0 });
  });

  it('retries a receiver that is not listening (network error)', async () => {
    // Prepare
    const gone = await startReceiver();
    await gone.close();
    await v2(sim, 'POST', '/v2/webhooks', token, registration(`${gone.url}/hook`, { enabled_events: ['person.updated'] }));
    sim.setKnobs({ webhookRetryDelaysMs: [10] });

    // Act
    sim.updateEmployee(someEmployee(), { first_name: 'Nobody' });
    await sim.webhooksIdle();

    // Assess
    expect(sim.webhookDeliveries().map((t) => [t.attempt, t.status, t.error])).toEqual([
      [1, null, 'network: ECONNREFUSED'],
      [1, null, 'network: ECONNREFUSED'],
      [2, null, 'network: ECONNREFUSED'],
      [2, null, 'network: ECONNREFUSED'],
    ]);
  });

  it('stops delivering to a webhook once it is deleted', async () => {
    // Prepare
    const webhook = await register({ enabled_events: ['person.updated'] });
    receiver.fallback = { status: 500 };
    sim.setKnobs({ webhookRetryDelaysMs: [300, 300] });
    sim.updateEmployee(someEmployee(), { first_name: 'Doomed' });
    await expect.poll(() => receiver.received.length).toBe(2);

    // Act
    const deleted = await v2(sim, 'DELETE', `/v2/webhooks/${webhook.id}`, token);
    await sim.webhooksIdle();

    // Assess
    expect(deleted.status).toBe(204);
    expect(receiver.received).toHaveLength(2);
    expect(sim.stats().webhooks.pending).toBe(0);
  });

  it('answers the control calls right away while deliveries are pending, and idle says when they are done', async () => {
    // Prepare
    await register({ enabled_events: ['person.updated'] });
    receiver.script({ status: 200, delayMs: 150 });
    const id = someEmployee();

    // Act
    const started = Date.now();
    const answer = await call(`${sim.url}/__sim/employees`, { method: 'POST', body: JSON.stringify({ update: { id, changes: { first_name: 'Quick' } } }) });
    const answeredAfter = Date.now() - started;
    const notYet = await call<{ idle: boolean; pending: number }>(`${sim.url}/__sim/webhooks/idle?timeoutMs=0`);
    const done = await call<{ idle: boolean; pending: number }>(`${sim.url}/__sim/webhooks/idle?timeoutMs=5000`);
    const records = await call<unknown[]>(`${sim.url}/__sim/webhook-deliveries`);

    // Assess
    expect(answer.status).toBe(200);
    expect(answeredAfter).toBeLessThan(150);
    expect(notYet.body).toEqual({ idle: false, pending: 1 });
    expect(done.body).toEqual({ idle: true, pending: 0 });
    expect(records.body).toEqual([expect.objectContaining({ event_name: 'person.updated', status: 200, ok: true })]);
  });

  it('delivers each event twice with duplicateDeliveries and in a shuffled order with shuffleDeliveries', async () => {
    // Prepare
    await register({ enabled_events: ['person.created'] });
    sim.setKnobs({ duplicateDeliveries: 1, shuffleDeliveries: true });

    // Act
    const ids = sim.addEmployees(20);
    await sim.webhooksIdle();

    // Assess
    const arrived = receiver.received.map((r) => Number((r.body['payload'] as { person: { id: string } }).person.id));
    expect([...arrived].sort((a, b) => a - b)).toEqual(ids.flatMap((id) => [id, id]));
    expect(arrived).not.toEqual([...arrived].sort((a, b) => a - b));
    const bodies = new Map<string, number>();
    for (const r of receiver.received) bodies.set(JSON.stringify(r.body), (bodies.get(JSON.stringify(r.body)) ?? 0) + 1);
    expect([...bodies.values()]).toEqual(Array(20).fill(2));
  });
});

describe('webhook delivery in bulk', () => {
  it('delivers every event of a large change with a bounded number of requests in flight', async () => {
    // Prepare
    const receiver = await startReceiver();
    receiver.fallback = { status: 200, delayMs: 20 };
    const sim = await startPersonioSim({ employees: 3 });
    try {
      const token = await v2Token(sim);
      await v2(sim, 'POST', '/v2/webhooks', token, registration(`${receiver.url}/hook`, { enabled_events: ['person.created', 'employment.created'] }));

      // Act
      const ids = sim.addEmployees(300);
      await sim.webhooksIdle();

      // Assess
      expect(receiver.received).toHaveLength(600);
      expect(new Set(receiver.received.map((r) => `${r.body['event_name']} ${JSON.stringify(r.body['payload'])}`)).size).toBe(600);
      expect(receiver.maxConcurrent).toBeGreaterThan(1);
      expect(receiver.maxConcurrent).toBeLessThanOrEqual(64);
      expect(sim.stats().webhooks).toEqual({ attempts: 600, delivered: 600, failed: 0, pending: 0 });
      expect(ids).toHaveLength(300);
    } finally {
      await sim.close();
      await receiver.close();
    }
  });
});

describe('webhook delivery when the simulator closes', () => {
  it('cancels waiting retries and settles idle, and nothing arrives afterwards', async () => {
    // Prepare
    const receiver = await startReceiver();
    receiver.fallback = { status: 500 };
    const sim = await startPersonioSim({ employees: 3, webhookRetryDelaysMs: [200] });
    const token = await v2Token(sim);
    await v2(sim, 'POST', '/v2/webhooks', token, registration(`${receiver.url}/hook`, { enabled_events: ['person.created'] }));
    sim.addEmployees(1);
    await expect.poll(() => receiver.received.length).toBe(2);

    // Act
    await sim.close();
    await sim.webhooksIdle();
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Assess
    expect(receiver.received).toHaveLength(2);
    expect(sim.stats().webhooks.pending).toBe(0);
    await receiver.close();
  });
});
