import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { type Employee, type Page, UNLIMITED, authenticate, get, ids, value, epochMs, personioError } from './support.js';

/** The simulator's employee list: envelopes, paging, projection, errors. */

describe('GET /v1/company/employees', () => {
  let sim: PersonioSim;
  let token: string;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 250, seed: 7, ...UNLIMITED });
    token = await authenticate(sim);
  });
  afterAll(() => sim.close());

  it('pages by item offset over the whole set with Personio metadata', async () => {
    // Prepare
    const expected = sim.employees().map((e) => e.id);

    // Act
    const pages = await Promise.all([0, 100, 200].map((offset) => get<Page>(sim, `/v1/company/employees?limit=100&offset=${offset}`, token)));

    // Assess
    const seen = pages.flatMap((p) => ids(p.body));
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(250);
    expect(pages.map((p) => p.body.metadata)).toEqual([0, 1, 2].map((current_page) => ({ total_elements: 250, current_page, total_pages: 3 })));
    expect(pages.map((p) => [p.body.success, p.body.offset, p.body.limit, p.body.data.length])).toEqual([
      [true, 0, 100, 100],
      [true, 100, 100, 100],
      [true, 200, 100, 50],
    ]);
  });

  it('treats offset as an item offset, not a page index', async () => {
    // Act
    const answer = await get<Page>(sim, '/v1/company/employees?limit=10&offset=15', token);

    // Assess
    expect(ids(answer.body)).toEqual(
      sim
        .employees()
        .slice(15, 25)
        .map((e) => e.id),
    );
    expect(answer.body.metadata).toEqual({ total_elements: 250, current_page: 1, total_pages: 25 });
  });

  it('serves 50 employees when limit is omitted', async () => {
    // Act
    const answer = await get<Page>(sim, '/v1/company/employees', token);

    // Assess
    expect(answer.body.data).toHaveLength(50);
    expect(answer.body.limit).toBe(50);
    expect(answer.body.metadata.total_pages).toBe(5);
  });

  it.each(['101', '0', 'abc', '-1', ''])('answers limit=%s with 422', async (limit) => {
    // Act
    const answer = await get(sim, `/v1/company/employees?limit=${limit}`, token);

    // Assess
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual(personioError(422, 'The limit must be between 1 and 100.'));
  });

  it.each(['-1', 'abc', '1.5'])('answers offset=%s with a 422 envelope', async (offset) => {
    // Act
    const answer = await get<{ success: boolean; error: { code: number } }>(sim, `/v1/company/employees?offset=${offset}`, token);

    // Assess
    expect(answer.status).toBe(422);
    expect(answer.body.success).toBe(false);
    expect(answer.body.error.code).toBe(422);
  });

  it('answers an offset past the end with an empty page', async () => {
    // Act
    const answer = await get<Page>(sim, '/v1/company/employees?limit=100&offset=300', token);

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual([]);
    expect(answer.body.metadata).toEqual({ total_elements: 250, current_page: 3, total_pages: 3 });
  });

  it('filters by email, ignoring case', async () => {
    // Prepare
    const target = sim.employees().find((e) => e.email !== null && e.email !== '' && e.id > 1100);
    if (!target?.email) throw new Error('seeded data should have e-mail addresses');

    // Act
    const upper = await get<Page>(sim, `/v1/company/employees?email=${encodeURIComponent(target.email.toUpperCase())}`, token);
    const unknown = await get<Page>(sim, '/v1/company/employees?email=nobody%40nowhere.example', token);

    // Assess
    expect(ids(upper.body)).toEqual([target.id]);
    expect(upper.body.metadata.total_elements).toBe(1);
    expect(unknown.body.data).toEqual([]);
  });

  it('projects attributes[] and always keeps id', async () => {
    // Act
    const answer = await get<Page>(sim, '/v1/company/employees?limit=5&attributes[]=email&attributes[]=first_name&attributes[]=no_such_key', token);

    // Assess
    expect(answer.body.data).toHaveLength(5);
    for (const employee of answer.body.data) expect(Object.keys(employee.attributes)).toEqual(['id', 'first_name', 'email']);
    const full = sim.employees()[0];
    expect(answer.body.data[0]?.attributes['first_name']).toEqual(full?.attributes['first_name']);
  });

  it('filters by updated_since (strictly after), with paging, in ISO and date-only form', async () => {
    // Prepare
    const modified = sim.employees().map((e) => ({ id: e.id, at: epochMs(String(value(e, 'last_modified_at'))) }));
    const cut = [...modified].sort((a, b) => a.at - b.at)[125]?.at ?? 0;
    const expected = modified.filter((m) => m.at > cut).map((m) => m.id);
    const day = new Date(cut).toISOString().slice(0, 10);
    const expectedSinceDay = modified.filter((m) => m.at > Date.parse(`${day}T00:00:00Z`)).length;

    // Act
    const first = await get<Page>(sim, `/v1/company/employees?limit=100&updated_since=${new Date(cut).toISOString()}`, token);
    const second = await get<Page>(sim, `/v1/company/employees?limit=100&offset=100&updated_since=${new Date(cut).toISOString()}`, token);
    const byDay = await get<Page>(sim, `/v1/company/employees?limit=1&updated_since=${day}`, token);
    const invalid = await get(sim, '/v1/company/employees?updated_since=yesterday', token);

    // Assess
    expect([...ids(first.body), ...ids(second.body)]).toEqual(expected);
    expect(first.body.metadata).toEqual({ total_elements: expected.length, current_page: 0, total_pages: Math.ceil(expected.length / 100) });
    expect(byDay.body.metadata.total_elements).toBe(expectedSinceDay);
    expect(invalid.status).toBe(422);
  });

  it('finds an updated employee with updated_since and shows the new value', async () => {
    // Prepare
    const target = sim.employees()[42];
    if (!target) throw new Error('expected 250 employees');
    const before = new Date(Date.now() - 1000).toISOString();

    // Act
    sim.updateEmployee(target.id, { position: 'Chief Happiness Officer' });
    const answer = await get<Page>(sim, `/v1/company/employees?updated_since=${before}`, token);

    // Assess
    expect(ids(answer.body)).toEqual([target.id]);
    expect(answer.body.data[0]?.attributes['position']?.value).toBe('Chief Happiness Officer');
    expect(epochMs(String(answer.body.data[0]?.attributes['last_modified_at']?.value))).toBeGreaterThan(Date.parse(before));
  });

  it('serves one employee by id, echoing the token, and 404 for an unknown id', async () => {
    // Prepare
    const target = sim.employees()[3];

    // Act
    const found = await get<{ success: boolean; data: Employee }>(sim, `/v1/company/employees/${target?.id}`, token);
    const missing = await get(sim, '/v1/company/employees/999999', token);

    // Assess
    expect(found.status).toBe(200);
    expect(found.body.success).toBe(true);
    expect(found.body.data.type).toBe('Employee');
    expect(found.body.data.attributes).toEqual(target?.attributes);
    expect(found.headers.get('authorization')).toBe(`Bearer ${token}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual(personioError(404, 'Es ist ein Problem aufgetreten '));
  });

  it('lists readable attributes, including the birthday, under both endpoint names', async () => {
    // Act
    const answer = await get<{ success: boolean; data: { key: string; label: string; type: string; universal_id: string | null; options: string[] }[] }>(
      sim,
      '/v1/company/employees/attributes',
      token,
    );
    const legacy = await get(sim, '/v1/company/employees/custom-attributes', token);

    // Assess
    expect(answer.body.success).toBe(true);
    expect(answer.body.data.find((a) => a.universal_id === 'date_of_birth')).toEqual({
      key: 'dynamic_180883',
      label: 'Geburtstag',
      type: 'date',
      universal_id: 'date_of_birth',
      options: [],
    });
    expect(answer.body.data.find((a) => a.key === 'dynamic_2')).toMatchObject({ type: 'list', options: ['married', 'single'] });
    expect(answer.body.data.map((a) => a.key)).toEqual(Object.keys(sim.employees()[0]?.attributes ?? {}));
    expect(legacy.body).toEqual(answer.body);
  });

  it('leaves attributes the credential may not read out of employees and the attribute list', async () => {
    // Prepare
    sim.setKnobs({ readableAttributes: ['first_name', 'email', 'status'] });

    try {
      // Act
      const page = await get<Page>(sim, '/v1/company/employees?limit=3', token);
      const projected = await get<Page>(sim, '/v1/company/employees?limit=3&attributes[]=first_name&attributes[]=dynamic_180883', token);
      const one = await get<{ data: Employee }>(sim, `/v1/company/employees/${ids(page.body)[0]}`, token);
      const listed = await get<{ data: { key: string }[] }>(sim, '/v1/company/employees/attributes', token);

      // Assess
      for (const employee of page.body.data) expect(Object.keys(employee.attributes)).toEqual(['id', 'first_name', 'email', 'status']);
      for (const employee of projected.body.data) expect(Object.keys(employee.attributes)).toEqual(['id', 'first_name']);
      expect(Object.keys(one.body.data.attributes)).toEqual(['id', 'first_name', 'email', 'status']);
      expect(listed.body.data.map((a) => a.key)).toEqual(['id', 'first_name', 'email', 'status']);
    } finally {
      sim.setKnobs({ readableAttributes: null });
    }
  });

  it('answers an unknown path with a 404 envelope', async () => {
    // Act
    const answer = await get(sim, '/v1/company/nothing-here', token);

    // Assess
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ success: false, error: { code: 404 } });
  });
});
