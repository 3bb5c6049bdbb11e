import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { type Attribute, type Page, UNLIMITED, authenticate, get, ids, value, epochMs } from './support.js';

/** The simulator's generated data and changes made while a run pages. */

describe('generated data', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 1000, seed: 42, ...UNLIMITED });
  });
  afterAll(() => sim.close());

  it('is as messy as real Personio data', () => {
    // Prepare
    const employees = sim.employees();
    const names = employees.map((e) => `${String(value(e, 'first_name'))} ${String(value(e, 'last_name'))}`);
    const stamps = employees.flatMap((e) => ['hire_date', 'created_at', 'last_modified_at'].map((k) => String(value(e, k))));

    // Assess
    expect(names.some((n) => /[äöüÄÖÜ]/.test(n))).toBe(true);
    expect(names.some((n) => n.includes('ß'))).toBe(true);
    expect(names.some((n) => n.includes("'"))).toBe(true);
    expect(employees.filter((e) => e.email === null).length).toBeGreaterThan(0);
    expect(employees.filter((e) => e.email === '').length).toBeGreaterThan(0);
    expect(employees.some((e) => e.email !== null && /[A-Z]/.test(e.email))).toBe(true);
    expect(new Set(employees.map((e) => typeof value(e, 'weekly_working_hours')))).toEqual(new Set(['string']));
    expect(stamps.some((s) => s.endsWith('+0100'))).toBe(true);
    expect(stamps.some((s) => s.endsWith('+01:00'))).toBe(true);
    expect(stamps.some((s) => s.endsWith('Z'))).toBe(true);
    const inactive = employees.filter((e) => e.status === 'inactive');
    expect(inactive.length).toBeGreaterThan(20);
    expect(inactive.every((e) => typeof value(e, 'termination_date') === 'string')).toBe(true);
    expect(new Set(employees.map((e) => e.status))).toEqual(new Set(['active', 'inactive', 'onboarding', 'leave']));
    expect(employees.filter((e) => value(e, 'department') === null).length).toBeGreaterThan(100);
    expect(employees.some((e) => value(e, 'preferred_name') === null)).toBe(true);
  });

  it('forms a supervisor tree under a CEO without supervisor', () => {
    // Prepare
    const [ceo, ...rest] = sim.employees();

    // Assess
    expect(value(ceo ?? { attributes: {} }, 'supervisor')).toBeNull();
    expect(value(ceo ?? { attributes: {} }, 'position')).toBe('CEO');
    for (const employee of rest) {
      const supervisor = value(employee, 'supervisor') as { type: string; attributes: { id: Attribute } };
      expect(supervisor.type).toBe('Employee');
      expect(supervisor.attributes.id).toMatchObject({ label: 'ID', type: 'integer', universal_id: 'id' });
      expect(supervisor.attributes.id.value as number).toBeLessThan(employee.id);
    }
  });

  it('has ascending ids with gaps, unique e-mails and a birthday with universal_id date_of_birth', () => {
    // Prepare
    const employees = sim.employees();
    const idList = employees.map((e) => e.id);
    const emails = employees.map((e) => e.email?.toLowerCase()).filter((e) => e);

    // Assess
    expect(idList).toEqual([...idList].sort((a, b) => a - b));
    expect(idList.at(-1)! - idList[0]!).toBeGreaterThan(1000);
    expect(new Set(emails).size).toBe(emails.length);
    const birthday = employees[1]?.attributes['dynamic_180883'] as Attribute;
    expect(birthday).toMatchObject({ label: 'Geburtstag', type: 'date', universal_id: 'date_of_birth' });
    expect(
      employees
        .filter((e) => typeof value(e, 'dynamic_180883') === 'string')
        .every((e) => /^\d{4}-\d{2}-\d{2}T00:00:00/.test(String(value(e, 'dynamic_180883')))),
    ).toBe(true);
  });

  it('is the same for the same seed and different for another', async () => {
    // Prepare
    const twin = await startPersonioSim({ employees: 1000, seed: 42 });
    const other = await startPersonioSim({ employees: 1000, seed: 43 });

    try {
      // Assess
      expect(twin.employees()).toEqual(sim.employees());
      expect(other.employees()).not.toEqual(sim.employees());
    } finally {
      await Promise.all([twin.close(), other.close()]);
    }
  });

  it('serves a page of 100 at Personio weight and extra attributes on request', async () => {
    // Prepare
    const heavy = await startPersonioSim({ employees: 100, extraAttributes: 20 });
    try {
      const token = await authenticate(sim);
      const heavyToken = await authenticate(heavy);

      // Act
      const page = await get<Page>(sim, '/v1/company/employees?limit=100', token);
      const heavyPage = await get<Page>(heavy, '/v1/company/employees?limit=100', heavyToken);

      // Assess
      expect(Buffer.byteLength(page.text) / 100).toBeGreaterThan(4 * 1024);
      const extra = heavyPage.body.data[0]?.attributes['dynamic_9019'];
      expect(extra).toMatchObject({ type: 'standard', universal_id: null });
      expect(String(extra?.value).length).toBeGreaterThanOrEqual(25);
      expect(String(extra?.value).length).toBeLessThanOrEqual(60);
    } finally {
      await heavy.close();
    }
  });

  it('can emit empty relations as objects that validate against the official spec', async () => {
    // Prepare
    const token = await authenticate(sim);

    try {
      // Act
      sim.setKnobs({ strictSpec: true });
      const page = await get<Page>(sim, '/v1/company/employees?limit=100', token);

      // Assess
      expect(page.body.data[0]?.attributes['supervisor']?.value).toEqual({});
      expect(page.body.data.some((e) => JSON.stringify(e.attributes['department']?.value) === '{}')).toBe(true);
      expect(page.body.data.every((e) => ['supervisor', 'department', 'office', 'team'].every((k) => e.attributes[k]?.value !== null))).toBe(true);
    } finally {
      sim.setKnobs({ strictSpec: false });
    }
    expect(value(sim.employees()[0] ?? { attributes: {} }, 'supervisor')).toBeNull();
  });
});

describe('mid-run changes', () => {
  let sim: PersonioSim;
  let token: string;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 100, seed: 5, ...UNLIMITED });
    token = await authenticate(sim);
  });
  afterAll(() => sim.close());

  it('shows added employees at the end and shifts later pages on removal', async () => {
    // Prepare
    const before = sim.employees().map((e) => e.id);

    // Act
    const added = sim.addEmployees(3);
    const afterAdd = await get<Page>(sim, '/v1/company/employees?limit=10&offset=100', token);
    sim.removeEmployees([before[0]!, before[1]!]);
    const shifted = await get<Page>(sim, '/v1/company/employees?limit=5&offset=0', token);

    // Assess
    expect(added).toHaveLength(3);
    expect(added[0]!).toBeGreaterThan(before.at(-1)!);
    expect(ids(afterAdd.body)).toEqual(added);
    expect(afterAdd.body.metadata.total_elements).toBe(103);
    expect(ids(shifted.body)).toEqual(before.slice(2, 7));
    expect(shifted.body.metadata.total_elements).toBe(101);
  });

  it('updates attribute values and last_modified_at', () => {
    // Prepare
    const target = sim.employees()[10]!;

    // Act
    sim.updateEmployee(target.id, { email: 'New.Address@Musterfirma.example', supervisor: 4711, status: 'inactive' });
    const updated = sim.employees().find((e) => e.id === target.id)!;

    // Assess
    expect(updated.email).toBe('New.Address@Musterfirma.example');
    expect(updated.status).toBe('inactive');
    expect(value(updated, 'supervisor')).toEqual({ type: 'Employee', attributes: { id: { label: 'ID', value: 4711, type: 'integer', universal_id: 'id' } } });
    expect(epochMs(String(value(updated, 'last_modified_at')))).toBeGreaterThan(epochMs(String(value(target, 'last_modified_at'))));
    expect(() => sim.updateEmployee(1, { email: 'x' })).toThrow(/no employee/);
    expect(() => sim.updateEmployee(target.id, { no_such_attribute: 1 })).toThrow(/cannot be set/);
  });
});
