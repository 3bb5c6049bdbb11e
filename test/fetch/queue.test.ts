import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultMapping, mappingSchema } from '../../lib/mapping/mapping.js';
import { clearTokenCache } from '../../lib/personio/client.js';
import { employeeId } from '../../lib/personio/employee.js';
import { importMessageSchema, MESSAGE_BUDGET_BYTES, type ImportMessage } from '../../lib/queue/message.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { lambdaContext } from '../helpers/events.js';
import { takeMessages } from '../helpers/queue.js';

const EMPLOYEES = 600;
const CUSTOM = 50;

describe('what the fetch puts on the queue', () => {
  let env: LocalEnvironment;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: EMPLOYEES, extraAttributes: CUSTOM, seed: 5 } });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(() => {
    clearTokenCache();
    env.sim!.setKnobs({ errorRate: 0, employeesPerSecond: 15 });
    env.sim!.resetRateLimits();
  });

  /** Drains the queue (nobody else consumes it in this file) and returns the bodies and their sizes. */
  async function drain(expected: number): Promise<{ message: ImportMessage; bytes: number }[]> {
    const messages = await takeMessages(env, expected, { remove: true });
    return messages.map((m) => ({ message: importMessageSchema.parse(JSON.parse(m.Body ?? '')), bytes: Buffer.byteLength(m.Body ?? '') }));
  }

  async function connectWithCustomFields(tenantId: string): Promise<void> {
    await connectThroughApi(env, tenantId, env.personio);
    const connection = (await env.connections.get(tenantId))!;
    const customFields = Object.fromEntries(Array.from({ length: CUSTOM }, (_, i) => [`extra${i}`, `dynamic_${9000 + i}`]));
    await env.connections.save({ ...connection, mapping: mappingSchema.parse({ fields: connection.mapping.fields, customFields }) });
  }

  it('packs employees with 50 custom attributes under the byte budget, and the union is exactly the simulator’s set', async () => {
    // Prepare
    await connectWithCustomFields('wide');

    // Act
    const outcome = await env.handlers.fetch({ tenantId: 'wide' }, lambdaContext('personio-fetch', 120_000));

    // Assess
    expect(outcome.status).toBe('fetched');
    const messages = await drain(outcome.status === 'fetched' ? outcome.messagesSent : 0);
    for (const { bytes } of messages) expect(bytes).toBeLessThanOrEqual(MESSAGE_BUDGET_BYTES);
    const employees = messages.flatMap(({ message }) => message.employees);
    const ids = employees.map((e) => employeeId(e));
    expect(ids.slice().sort()).toEqual(
      env
        .sim!.employees()
        .map((e) => e.id)
        .sort(),
    );
    expect(employees.every((e) => Object.keys(e).filter((k) => k.startsWith('dynamic_9')).length === CUSTOM)).toBe(true);
    expect(messages.map(({ message }) => message.seq).sort((a, b) => a - b)).toEqual(messages.map((_, i) => i));
  });

  it('projects: attributes the mapping does not use never leave Personio', async () => {
    // Prepare: the default mapping (no custom fields)
    await connectThroughApi(env, 'narrow', env.personio);

    // Act
    const outcome = await env.handlers.fetch({ tenantId: 'narrow' }, lambdaContext('personio-fetch', 120_000));

    // Assess: the fetch succeeded and sent every employee, each carrying only what the mapping reads
    expect(outcome).toMatchObject({ status: 'fetched', employeesFetched: EMPLOYEES });
    const messages = await drain(outcome.status === 'fetched' ? outcome.messagesSent : 0);
    const employees = messages.flatMap(({ message }) => message.employees);
    expect(employees).toHaveLength(EMPLOYEES);
    const projected = new Set([
      'id',
      'email',
      'status',
      'last_modified_at',
      ...Object.values(defaultMapping('dynamic_180883').fields).filter((k): k is string => k !== null),
    ]);
    const keys = new Set(employees.flatMap((e) => Object.keys(e)));
    expect(keys.size).toBeGreaterThan(0);
    expect([...keys].filter((k) => !projected.has(k))).toEqual([]);
    expect(keys.has('dynamic_9000')).toBe(false);
    expect(keys.has('fix_salary')).toBe(false);
  });

  it('delivers every employee exactly once through 429s and server errors', async () => {
    // Prepare: a Personio far stricter than its documentation (3/s) that also fails 30 % of requests
    await connectThroughApi(env, 'stormy', env.personio);
    env.sim!.setKnobs({ errorRate: 0.3, employeesPerSecond: 3 });
    env.sim!.resetStats();

    // Act
    const outcome = await env.handlers.fetch({ tenantId: 'stormy' }, lambdaContext('personio-fetch', 120_000));

    // Assess
    expect(outcome).toMatchObject({ status: 'fetched', employeesFetched: EMPLOYEES });
    const stats = env.sim!.stats();
    expect(stats.rateLimited).toBeGreaterThan(0);
    expect((stats.byStatus['500'] ?? 0) + (stats.byStatus['502'] ?? 0) + (stats.byStatus['503'] ?? 0)).toBeGreaterThan(0);
    expect(outcome.status === 'fetched' && outcome.personio429).toBe(stats.rateLimited);
    const messages = await drain(outcome.status === 'fetched' ? outcome.messagesSent : 0);
    const ids = messages.flatMap(({ message }) => message.employees.map((e) => employeeId(e)));
    expect(ids.length).toBe(EMPLOYEES);
    expect(new Set(ids).size).toBe(EMPLOYEES);
  }, 60_000);
});
