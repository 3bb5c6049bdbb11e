import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { type Page, CREDENTIAL, UNLIMITED, call, authenticate, get, personioError } from './support.js';

/** The simulator's /v1/auth: tokens, their lifetime and re-use, refusals. */

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
