import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import type { RunReport } from '../../lib/runs/run.js';
import type { UserRecord } from '../../lib/users/user.js';
import { httpEvent } from '../helpers/events.js';
import { expectedCustomFields, expectedUser } from '../helpers/expected-user.js';

const EMPLOYEES = 300;
const TENANT = 'acme';
/** Custom fields the admin maps: the simulator's `dynamic_*` attributes of every type it serves (text, date, tags, list). */
const CUSTOM_FIELDS = { title: 'dynamic_24407', iban: 'dynamic_21827', anniversary: 'dynamic_33400', languages: 'dynamic_3', maritalStatus: 'dynamic_2' };

describe('an import through the real handlers on the local stack', () => {
  let env: LocalEnvironment;
  let first: RunReport;
  let second: RunReport;
  let usersAfterFirst: UserRecord[];

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: EMPLOYEES, seed: 7 } });
    await connectThroughApi(env, TENANT, env.personio);
    // The admin keeps the default fields and adds custom fields, through the settings page's API.
    const status = await env.handlers.connect(httpEvent('GET', `/tenants/${TENANT}/personio`));
    const { fields } = (JSON.parse(status.body ?? '{}') as { mapping: { fields: Record<string, string | null> } }).mapping;
    const saved = await env.handlers.connect(httpEvent('PUT', `/tenants/${TENANT}/personio/mapping`, { fields, customFields: CUSTOM_FIELDS }));
    expect(saved.statusCode, saved.body).toBe(200);
    expect(JSON.parse(saved.body ?? '{}')).toMatchObject({ saved: true, mapping: { customFields: CUSTOM_FIELDS } });
    first = await runImport(env, TENANT);
    usersAfterFirst = await env.users.list(TENANT);
    second = await runImport(env, TENANT);
  }, 180_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('imports every simulated employee that has an email, and reports the rest by id', () => {
    // Prepare
    const employees = env.sim!.employees();
    const withoutEmail = employees.filter((e) => expectedUser(e)['email'] === null).map((e) => e.id);

    // Assess
    expect(first.status).toBe('completed');
    expect(first.employeesFetched).toBe(EMPLOYEES);
    expect(first.created).toBe(EMPLOYEES - withoutEmail.length);
    expect(first.failed).toBe(withoutEmail.length);
    expect(usersAfterFirst).toHaveLength(EMPLOYEES - withoutEmail.length);
    expect(new Set(usersAfterFirst.map((u) => u.personioId))).toEqual(new Set(employees.map((e) => e.id).filter((id) => !withoutEmail.includes(id))));
    if (withoutEmail.length > 0) {
      const finding = first.findings.find((f) => f.code === 'employees_missing_email');
      expect(finding?.message).toContain(String(withoutEmail[0]));
    }
  });

  it('writes every field of the user record as Personio has it', () => {
    // Prepare
    const byId = new Map(usersAfterFirst.map((u) => [u.personioId, u]));
    const sample = env.sim!.employees().filter((e) => byId.has(e.id));

    // Assess: field by field, custom fields included, for every imported user (the sample is the whole tenant)
    expect(sample).toHaveLength(usersAfterFirst.length);
    for (const employee of sample) {
      const user = byId.get(employee.id)!;
      expect({ ...user, tenantId: undefined, userId: undefined, managerUserId: undefined }).toEqual({
        ...expectedUser(employee),
        customFields: expectedCustomFields(employee, CUSTOM_FIELDS),
        tenantId: undefined,
        userId: undefined,
        managerUserId: undefined,
      });
      expect(user.tenantId).toBe(TENANT);
      expect(user.userId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('imports each mapped custom field under the admin’s name, with a value for most employees', () => {
    // Assess: every name is present on every user, and each carries real values (not only nulls) in the table
    expect(usersAfterFirst.length).toBeGreaterThan(0);
    for (const user of usersAfterFirst) expect(Object.keys(user.customFields).sort()).toEqual(Object.keys(CUSTOM_FIELDS).sort());
    for (const name of Object.keys(CUSTOM_FIELDS)) {
      const values = usersAfterFirst.map((u) => u.customFields[name]).filter((v) => v !== null);
      expect(values.length, name).toBeGreaterThan(usersAfterFirst.length / 20);
    }
    expect(usersAfterFirst.some((u) => Array.isArray(u.customFields['languages']) && (u.customFields['languages'] as unknown[]).length > 1)).toBe(true);
    expect(usersAfterFirst.every((u) => u.customFields['anniversary'] === null || /^\d{4}-\d{2}-\d{2}$/.test(String(u.customFields['anniversary'])))).toBe(
      true,
    );
  });

  it('keeps calendar dates as written, whatever the offset', () => {
    // Prepare: employees whose hire date carries +0100, +01:00 or Z
    const users = new Map(usersAfterFirst.map((u) => [u.personioId, u]));
    const dated = env.sim!.employees().filter((e) => typeof (e.attributes['hire_date'] as { value: unknown }).value === 'string' && users.has(e.id));
    const forms = new Set(dated.map((e) => String((e.attributes['hire_date'] as { value: string }).value).slice(10)));

    // Assess
    expect(forms.size).toBeGreaterThan(1);
    for (const employee of dated) {
      expect(users.get(employee.id)!.hireDate).toBe(String((employee.attributes['hire_date'] as { value: string }).value).slice(0, 10));
    }
  });

  it('links each user to its manager once both are imported', () => {
    // Prepare
    const byPersonioId = new Map(usersAfterFirst.map((u) => [u.personioId, u]));

    // Assess
    const managed = usersAfterFirst.filter((u) => u.managerPersonioId !== null);
    expect(managed.length).toBeGreaterThan(EMPLOYEES / 2);
    for (const user of managed) {
      const manager = byPersonioId.get(user.managerPersonioId!);
      expect(user.managerUserId).toBe(manager ? manager.userId : null);
    }
  });

  it('reports the Personio requests it made and the writes it caused', () => {
    // Assess: 3 pages of 100 plus the page-0 request; no 429 on a quiet simulator
    expect(first.personioRequests).toBeGreaterThanOrEqual(3);
    expect(first.personioRequests).toBeLessThanOrEqual(5);
    expect(first.personio429).toBe(0);
    expect(first.dynamoWriteRequests).toBeGreaterThanOrEqual(first.created);
    expect(first.durationMs).toBeGreaterThan(0);
  });

  it('creates and writes nothing when the same data is imported again', async () => {
    // Act
    const usersAfterSecond = await env.users.list(TENANT);

    // Assess
    expect(second.status).toBe('completed');
    expect(second.created).toBe(0);
    expect(second.updated).toBe(0);
    expect(second.unchanged).toBe(first.created);
    expect(second.dynamoWriteRequests).toBe(0);
    expect(usersAfterSecond.sort((a, b) => a.personioId - b.personioId)).toEqual(usersAfterFirst.sort((a, b) => a.personioId - b.personioId));
  });
});
