import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim, type SimOptions } from '../local/personio-sim/index.js';

interface Attribute {
  label: string;
  value: unknown;
  type: string;
  universal_id: string | null;
}
interface Employee {
  type: string;
  attributes: Record<string, Attribute>;
}
interface Page {
  success: boolean;
  metadata: { total_elements: number; current_page: number; total_pages: number };
  offset: number;
  limit: number;
  data: Employee[];
}
interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

const CREDENTIAL = { client_id: 'sim-client-id', client_secret: 'sim-client-secret' };
/** Keeps the shared simulators' rate limits out of the way of tests that are not about them. */
const UNLIMITED: SimOptions = { employeesPerSecond: 1e6, employeesPerMinute: 1e6, ipPerMinute: 1e6, authPerMinute: 1e6 };

async function call<T = unknown>(url: string, init?: RequestInit): Promise<Answer<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // Non-JSON bodies (502 HTML, malformed pages) are asserted on `text`.
  }
  return { status: response.status, body: body as T, text, headers: response.headers };
}

async function authenticate(sim: PersonioSim, credential: { client_id: string; client_secret: string } = CREDENTIAL): Promise<string> {
  const answer = await call<{ data: { token: string } }>(`${sim.url}/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credential),
  });
  expect(answer.status).toBe(200);
  return answer.body.data.token;
}

function get<T = unknown>(sim: PersonioSim, path: string, token: string | null): Promise<Answer<T>> {
  return call<T>(`${sim.url}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

function ids(page: Page): number[] {
  return page.data.map((e) => e.attributes.id?.value as number);
}

function value(employee: { attributes: Record<string, unknown> }, key: string): unknown {
  return (employee.attributes[key] as Attribute | undefined)?.value;
}

/** Personio's offset forms (`+01:00`, `+0100`, `Z`) to epoch ms, written independently of the simulator's parser. */
function epochMs(stamp: string): number {
  return Date.parse(stamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

const personioError = (code: number, message: string) => ({ success: false, error: { code, message } });

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
    expect(ids(answer.body)).toEqual(sim.employees().slice(15, 25).map((e) => e.id));
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
    expect(answer.body.data[0]?.attributes.first_name).toEqual(full?.attributes.first_name);
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
    expect(answer.body.data[0]?.attributes.position?.value).toBe('Chief Happiness Officer');
    expect(epochMs(String(answer.body.data[0]?.attributes.last_modified_at?.value))).toBeGreaterThan(Date.parse(before));
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

describe('authentication', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 20, ...UNLIMITED });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.setKnobs({ tokenTtlSeconds: 86_400 }));

  it('accepts credentials as JSON, form and query string, and hands out one stable token', async () => {
    // Prepare
    sim.revokeTokens();
    sim.resetStats();

    // Act
    const asJson = await call<{ success: boolean; data: { token: string; expires_in: number; scope: string } }>(`${sim.url}/v1/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(CREDENTIAL),
    });
    const asForm = await call<{ data: { token: string } }>(`${sim.url}/v1/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(CREDENTIAL).toString(),
    });
    const asQuery = await call<{ data: { token: string } }>(`${sim.url}/v1/auth?${new URLSearchParams(CREDENTIAL).toString()}`, { method: 'POST' });

    // Assess
    expect(asJson.status).toBe(200);
    expect(asJson.body.success).toBe(true);
    expect(asJson.body.data.token).toMatch(/^papi-/);
    expect(asJson.body.data.expires_in).toBe(86_400);
    expect(asJson.body.data.scope).toBe('employees:read');
    expect(asForm.body.data.token).toBe(asJson.body.data.token);
    expect(asQuery.body.data.token).toBe(asJson.body.data.token);
    expect(sim.stats()).toMatchObject({ authCalls: 3, tokensIssued: 1 });
  });

  it('counts expires_in down and mints a new token once the old one expired', async () => {
    // Prepare
    sim.revokeTokens();
    sim.setKnobs({ tokenTtlSeconds: 2 });
    const token = await authenticate(sim);
    await new Promise((resolve) => setTimeout(resolve, 1100));

    // Act
    const again = await call<{ data: { token: string; expires_in: number } }>(`${sim.url}/v1/auth`, { method: 'POST', body: JSON.stringify(CREDENTIAL) });
    sim.setKnobs({ tokenTtlSeconds: 0 });
    const expired = await get(sim, '/v1/company/employees', token);
    sim.setKnobs({ tokenTtlSeconds: 3600 });
    const stillExpired = await get(sim, '/v1/company/employees', token);
    const fresh = await call<{ data: { token: string; expires_in: number } }>(`${sim.url}/v1/auth`, { method: 'POST', body: JSON.stringify(CREDENTIAL) });

    // Assess
    expect(again.body.data.token).toBe(token);
    expect(again.body.data.expires_in).toBe(1);
    expect(expired.status).toBe(403);
    expect(stillExpired.status).toBe(403);
    expect(fresh.body.data.token).not.toBe(token);
    expect(fresh.body.data.expires_in).toBe(3600);
    expect((await get(sim, '/v1/company/employees', fresh.body.data.token)).status).toBe(200);
  });

  it('hands out tokens that are dead on arrival when tokenTtlSeconds is 0', async () => {
    // Prepare
    sim.setKnobs({ tokenTtlSeconds: 0 });

    // Act
    const token = await authenticate(sim);
    const answer = await get(sim, '/v1/company/employees', token);

    // Assess
    expect(answer.status).toBe(403);
  });

  it.each([
    ['a wrong secret', { client_id: 'sim-client-id', client_secret: 'nope' }],
    ['an unknown client', { client_id: 'someone-else', client_secret: 'sim-client-secret' }],
    ['no credentials', {}],
  ])('answers %s with 401 "Wrong credentials"', async (_case, body) => {
    // Act
    const answer = await call(`${sim.url}/v1/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(personioError(401, 'Wrong credentials'));
  });

  it.each([
    ['no header', null],
    ['another scheme', 'Basic c2ltOnNpbQ=='],
    ['an empty bearer', 'Bearer '],
  ])('answers %s with the spec 401 body', async (_case, header) => {
    // Act
    const answer = await call(`${sim.url}/v1/company/employees`, header === null ? {} : { headers: { authorization: header } });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(personioError(401, 'Authorization is not provided'));
  });

  it('answers an unknown token with the spec 403 body', async () => {
    // Act
    const answer = await get(sim, '/v1/company/employees', 'papi-made-up');

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(personioError(403, 'Provided authorization is not valid'));
  });

  it('rejects revoked tokens with 403, and re-authentication works', async () => {
    // Prepare
    const token = await authenticate(sim);

    // Act
    sim.revokeTokens();
    const revoked = await get(sim, '/v1/company/employees/attributes', token);
    const fresh = await authenticate(sim);
    const after = await get<Page>(sim, '/v1/company/employees?limit=1', fresh);

    // Assess
    expect(revoked.status).toBe(403);
    expect(fresh).not.toBe(token);
    expect(after.status).toBe(200);
    expect(after.headers.get('authorization')).toBe(`Bearer ${fresh}`);
  });
});

describe('rate limits', () => {
  let sim: PersonioSim | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('allows 15 employee requests per second per credential, not per token or IP', async () => {
    // Prepare
    const started = await startPersonioSim({
      employees: 20,
      credentials: [
        { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' },
        { clientId: 'second', clientSecret: 'second-secret' },
      ],
    });
    sim = started;
    const first = await authenticate(started);
    const second = await authenticate(started, { client_id: 'second', client_secret: 'second-secret' });

    // Act
    const burst = await Promise.all(Array.from({ length: 20 }, () => get(started, '/v1/company/employees?limit=1', first)));
    const other = await get(started, '/v1/company/employees?limit=1', second);
    started.revokeTokens();
    const renewed = await get(started, '/v1/company/employees?limit=1', await authenticate(started));

    // Assess
    const statuses = burst.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(15);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    const refused = burst.find((a) => a.status === 429);
    expect(refused?.body).toEqual(personioError(429, 'Too Many Requests'));
    expect(refused?.headers.get('retry-after')).toBeNull();
    expect(other.status).toBe(200);
    // A new token for the same credential buys no new budget.
    expect(renewed.status).toBe(429);
    expect(started.stats()).toMatchObject({ rateLimited: 6, byStatus: { '200': 19, '429': 6 } });
  });

  it('limits employee requests per minute, and a 429 costs no budget', async () => {
    // Prepare
    const started = await startPersonioSim({ employees: 5, employeesPerMinute: 3 });
    sim = started;
    const token = await authenticate(started);

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await get(started, '/v1/company/employees', token)).status);
    started.setKnobs({ employeesPerMinute: 4 });
    const afterRaise = await get(started, '/v1/company/employees', token);

    // Assess
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(afterRaise.status).toBe(200);
  });

  it('enters an auth cool-down after authPerMinute calls', async () => {
    // Prepare
    const started = await startPersonioSim({ employees: 5, authPerMinute: 3 });
    sim = started;
    const post = () => call(`${started.url}/v1/auth`, { method: 'POST', body: JSON.stringify(CREDENTIAL) });

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await post()).status);
    started.setKnobs({ authPerMinute: 100 });
    const duringCooldown = await post();

    // Assess
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // The window has room again, but the cool-down still refuses.
    expect(duringCooldown.status).toBe(429);
    expect(duringCooldown.body).toEqual(personioError(429, 'Too Many Requests'));
    expect(started.stats()).toMatchObject({ authCalls: 6, rateLimited: 3 });
  });

  it('sends Retry-After when the knob is set, and limits all traffic per IP', async () => {
    // Prepare
    const started = await startPersonioSim({ employees: 5, ipPerMinute: 2, retryAfterSeconds: 7 });
    sim = started;
    const token = await authenticate(started);

    // Act
    const ok = await get(started, '/v1/company/employees', token);
    const refused = await get(started, '/v1/company/employees/attributes', token);
    const authRefused = await call(`${started.url}/v1/auth`, { method: 'POST', body: JSON.stringify(CREDENTIAL) });

    // Assess
    expect(ok.status).toBe(200);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(authRefused.status).toBe(429);
  });
});

describe('faults and latency', () => {
  let sim: PersonioSim;
  let token: string;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 30, seed: 3, ...UNLIMITED });
    token = await authenticate(sim);
  });
  afterAll(() => sim.close());
  afterEach(() => sim.setKnobs({ errorRate: 0, malformedRate: 0, latencyMs: 0 }));

  it('answers personnel-data GETs with Personio 500s, HTML 502s and other 503s at errorRate 1', async () => {
    // Prepare
    sim.setKnobs({ errorRate: 1 });

    // Act
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => get(sim, i % 2 === 0 ? '/v1/company/employees' : '/v1/company/employees/attributes', token)));

    // Assess
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([500, 502, 503]));
    expect(answers.find((a) => a.status === 500)?.body).toEqual(personioError(500, 'Something went wrong'));
    const gateway = answers.find((a) => a.status === 502);
    expect(gateway?.headers.get('content-type')).toBe('text/html');
    expect(gateway?.text).toContain('502 Bad Gateway');
    expect(answers.find((a) => a.status === 503)?.body).toEqual({ message: 'Service Unavailable' });
  });

  it('answers employee pages with truncated JSON at malformedRate 1', async () => {
    // Prepare
    sim.setKnobs({ malformedRate: 1 });

    // Act
    const answer = await get(sim, '/v1/company/employees?limit=10', token);

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.text.startsWith('{"success":true')).toBe(true);
    expect(() => JSON.parse(answer.text)).toThrow();
  });

  it('delays answers by latencyMs and tracks concurrency', async () => {
    // Prepare
    sim.setKnobs({ latencyMs: 150, latencyJitter: false });
    sim.resetStats();
    const started = performance.now();

    // Act
    const answers = await Promise.all(Array.from({ length: 4 }, () => get(sim, '/v1/company/employees?limit=1', token)));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    expect(sim.stats().maxConcurrent).toBe(4);
  });
});

describe('statistics', () => {
  it('counts requests, auth calls, list requests, the largest limit and 429s, but not control calls', async () => {
    // Prepare
    const sim = await startPersonioSim({ employees: 10, employeesPerSecond: 2 });
    try {
      const token = await authenticate(sim);
      await authenticate(sim);

      // Act
      await get(sim, '/v1/company/employees?limit=100', token);
      await get(sim, '/v1/company/employees?limit=250', token);
      await get(sim, '/v1/company/employees?limit=7', token);
      await call(`${sim.url}/__sim/stats`);
      const stats = sim.stats();
      sim.resetStats();

      // Assess
      expect(stats).toMatchObject({
        requests: 5,
        authCalls: 2,
        tokensIssued: 1,
        employeeListRequests: 3,
        rateLimited: 1,
        maxLimitRequested: 250,
        byStatus: { '200': 3, '422': 1, '429': 1 },
      });
      expect(stats.cpuMs).toBeGreaterThan(0);
      expect(sim.stats()).toMatchObject({ requests: 0, authCalls: 0, byStatus: {}, maxLimitRequested: 0 });
    } finally {
      await sim.close();
    }
  });
});

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
    const birthday = employees[1]?.attributes.dynamic_180883 as Attribute;
    expect(birthday).toMatchObject({ label: 'Geburtstag', type: 'date', universal_id: 'date_of_birth' });
    expect(employees.filter((e) => typeof value(e, 'dynamic_180883') === 'string').every((e) => /^\d{4}-\d{2}-\d{2}T00:00:00/.test(String(value(e, 'dynamic_180883'))))).toBe(true);
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
      const extra = heavyPage.body.data[0]?.attributes.dynamic_9019;
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
      expect(page.body.data[0]?.attributes.supervisor?.value).toEqual({});
      expect(page.body.data.some((e) => JSON.stringify(e.attributes.department?.value) === '{}')).toBe(true);
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

describe('HTTP control endpoints', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 10, seed: 9 });
  });
  afterAll(() => sim.close());

  const post = (path: string, body?: unknown) =>
    call(`${sim.url}/__sim/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('reads and resets stats without counting themselves', async () => {
    // Prepare
    await authenticate(sim);

    // Act
    const stats = await call<{ requests: number; authCalls: number }>(`${sim.url}/__sim/stats`);
    const reset = await post('reset');
    const after = await call<{ requests: number }>(`${sim.url}/__sim/stats`);

    // Assess
    expect(stats.body).toMatchObject({ requests: 1, authCalls: 1 });
    expect(reset.status).toBe(200);
    expect(after.body.requests).toBe(0);
  });

  it('validates and applies knobs', async () => {
    // Act
    const applied = await post('knobs', { errorRate: 0.5, retryAfterSeconds: 2 });
    const outOfRange = await post('knobs', { errorRate: 2 });
    const unknown = await post('knobs', { errorrate: 0.1 });
    const notJson = await call(`${sim.url}/__sim/knobs`, { method: 'POST', body: '{nope' });

    // Assess
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ errorRate: 0.5, retryAfterSeconds: 2, employeesPerSecond: 15 });
    expect(sim.knobs().errorRate).toBe(0.5);
    expect([outOfRange.status, unknown.status, notJson.status]).toEqual([400, 400, 400]);
    expect(sim.knobs().errorRate).toBe(0.5);
    sim.setKnobs({ errorRate: 0, retryAfterSeconds: null });
  });

  it('lists, adds, updates and removes employees', async () => {
    // Act
    const listed = await call<{ id: number; email: string | null; status: string; attributes: Record<string, unknown> }[]>(`${sim.url}/__sim/employees`);
    const added = await post('employees', { add: 2 });
    const updated = await post('employees', { update: { id: listed.body[0]?.id, changes: { first_name: 'Zoë' } } });
    const removed = await post('employees', { remove: [listed.body[1]?.id] });
    const missing = await post('employees', { update: { id: 1, changes: {} } });
    const invalid = await post('employees', { add: -1 });

    // Assess
    expect(listed.body).toHaveLength(10);
    expect(added.body).toEqual({ ids: expect.any(Array) });
    expect((added.body as { ids: number[] }).ids).toHaveLength(2);
    expect(updated.status).toBe(200);
    expect(removed.status).toBe(200);
    expect(missing.status).toBe(404);
    expect(invalid.status).toBe(400);
    const now = sim.employees();
    expect(now).toHaveLength(11);
    expect(value(now[0]!, 'first_name')).toBe('Zoë');
    expect(now.some((e) => e.id === listed.body[1]?.id)).toBe(false);
  });

  it('revokes tokens', async () => {
    // Prepare
    const token = await authenticate(sim);

    // Act
    const revoked = await post('revoke-tokens');
    const answer = await get(sim, '/v1/company/employees', token);

    // Assess
    expect(revoked.status).toBe(200);
    expect(answer.status).toBe(403);
  });
});

describe('npm run personio-sim (CLI)', () => {
  /** npx may exit before the simulator under it has closed its port, so poll briefly. */
  async function stopsListening(url: string): Promise<boolean> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        await fetch(`${url}/__sim/stats`);
      } catch {
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  function runCli(args: string[]) {
    // Own process group, so the whole npx → tsx → node chain can be stopped together.
    const child = spawn('npx', ['tsx', 'local/personio-sim/cli.ts', ...args], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return { child, output: () => ({ stdout, stderr }) };
  }

  it('prints the listening line, serves Personio, and stops on SIGTERM', async () => {
    // Prepare
    const { child, output } = runCli(['--port', '0', '--employees', '50', '--client-id', 'cli-id', '--client-secret', 'cli-secret']);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${JSON.stringify(output())}`)), 15_000);
        child.stdout.on('data', () => {
          const match = /^Personio simulator listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(output().stdout);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
      });

      // Act
      const auth = await call<{ data: { token: string } }>(`${url}/v1/auth`, { method: 'POST', body: JSON.stringify({ client_id: 'cli-id', client_secret: 'cli-secret' }) });
      const page = await call<Page>(`${url}/v1/company/employees?limit=100`, { headers: { authorization: `Bearer ${auth.body.data.token}` } });
      process.kill(-(child.pid ?? 0), 'SIGTERM');
      await once(child, 'exit');

      // Assess
      expect(page.body.metadata.total_elements).toBe(50);
      expect(await stopsListening(url)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
    }
  });

  it.each([
    [['--bogus'], /bogus/],
    [['--employees', 'lots'], /--employees/],
    [['--error-rate', '2'], /--error-rate/],
  ])('exits 2 with a message for %j', async (args, message) => {
    // Act
    const { child, output } = runCli(args);
    const [code] = (await once(child, 'exit')) as [number | null];

    // Assess
    expect(code).toBe(2);
    expect(output().stderr).toMatch(message);
    expect(output().stderr).toContain('Usage:');
  });
});
