import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { CREDENTIAL, UNLIMITED, authenticate, get } from './support.js';
import { type Problem, requestToken, v2, v2Token } from './v2-support.js';

/** The simulator's POST /v2/auth/token: Personio's OAuth2 client-credentials grant, its refusals and its scopes. */

// OAuth2Token and OAuth2TokenErrorResponse of Personio's credentials-service-api-v2 spec, strict so extra keys fail.
const tokenSchema = z.strictObject({
  access_token: z.string().startsWith('papi-'),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
});
const oauthErrorSchema = z.strictObject({
  error: z.enum(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']),
  error_description: z.string(),
  error_uri: z.string().optional(),
  type: z.string().optional(),
  timestamp: z.iso.datetime(),
  trace_id: z.string(),
  meta: z.record(z.string(), z.unknown()).optional(),
});

const GRANT = { grant_type: 'client_credentials', ...CREDENTIAL };
const NO_WEBHOOKS = { client_id: 'papi-no-webhooks', client_secret: 'papi-no-webhooks-secret' };

describe('v2 authentication', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({
      employees: 5,
      ...UNLIMITED,
      credentials: [
        { clientId: CREDENTIAL.client_id, clientSecret: CREDENTIAL.client_secret },
        { clientId: NO_WEBHOOKS.client_id, clientSecret: NO_WEBHOOKS.client_secret, webhooks: false },
      ],
    });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.setKnobs({ tokenTtlSeconds: 86_400, webhooksDeniedClientIds: [NO_WEBHOOKS.client_id] }));

  it('grants a stable Bearer token with the webhook scopes to a form-encoded client-credentials request', async () => {
    // Prepare
    sim.revokeTokens();
    sim.resetStats();

    // Act
    const first = await requestToken(sim, GRANT);
    const second = await requestToken(sim, GRANT, 'application/x-www-form-urlencoded; charset=UTF-8');

    // Assess
    expect(first.status).toBe(200);
    const token = tokenSchema.parse(first.body);
    expect(token.expires_in).toBe(86_400);
    expect(token.scope.split(' ')).toEqual(expect.arrayContaining(['personio:webhooks:read', 'personio:webhooks:write']));
    expect(second.body).toMatchObject({ access_token: token.access_token });
    expect(sim.stats()).toMatchObject({ requests: 0, authCalls: 0, v2: { requests: 2, authCalls: 2, tokensIssued: 1, byStatus: { 200: 2 } } });
  });

  it('leaves the webhook scopes out for a credential without webhook access, and a knob can withdraw them', async () => {
    // Act
    const denied = await requestToken(sim, { grant_type: 'client_credentials', ...NO_WEBHOOKS });
    const allowed = tokenSchema.parse((await requestToken(sim, GRANT)).body);
    sim.setKnobs({ webhooksDeniedClientIds: [CREDENTIAL.client_id] });
    const withdrawn = await v2(sim, 'GET', '/v2/webhooks', allowed.access_token);
    const reissued = await requestToken(sim, GRANT);

    // Assess
    expect(tokenSchema.parse(denied.body).scope).toBe('personio:persons:read personio:employments:read');
    expect(withdrawn.status).toBe(403);
    expect(tokenSchema.parse(reissued.body).scope).not.toContain('webhooks');
  });

  it('narrows the token to the requested scopes and refuses unknown or ungranted ones', async () => {
    // Act
    const narrowed = await requestToken(sim, { ...GRANT, scope: 'personio:webhooks:read' });
    const unknown = await requestToken(sim, { ...GRANT, scope: 'personio:webhooks:read fake_scope:777' });
    const ungranted = await requestToken(sim, { grant_type: 'client_credentials', ...NO_WEBHOOKS, scope: 'personio:webhooks:write' });
    const readOnly = tokenSchema.parse(narrowed.body).access_token;
    const create = await v2(sim, 'POST', '/v2/webhooks', readOnly, { url: 'http://127.0.0.1:9/x', description: 'd', enabled_events: ['person.created'] });
    const list = await v2(sim, 'GET', '/v2/webhooks', readOnly);

    // Assess
    expect(tokenSchema.parse(narrowed.body).scope).toBe('personio:webhooks:read');
    expect(oauthErrorSchema.parse(unknown.body).error).toBe('invalid_scope');
    expect(oauthErrorSchema.parse(ungranted.body).error).toBe('invalid_grant');
    expect(create.status).toBe(403);
    expect(list.status).toBe(200);
  });

  it.each([
    ['a JSON body', GRANT, 'application/json', 'invalid_request', undefined],
    [
      'no grant_type',
      { client_id: CREDENTIAL.client_id, client_secret: CREDENTIAL.client_secret },
      undefined,
      'invalid_request',
      { missing_parameters: ['grant_type'] },
    ],
    ['another grant type', { ...GRANT, grant_type: 'password' }, undefined, 'unsupported_grant_type', { grant_type: 'password' }],
    ['an unknown client id', { ...GRANT, client_id: 'client_who' }, undefined, 'invalid_client', undefined],
    ['a wrong secret', { ...GRANT, client_secret: 'verY-wr0ng-p4ssw0rd' }, undefined, 'unauthorized_client', undefined],
  ])('answers %s with 400 in the OAuth2 error shape, as the spec documents', async (_name, fields, contentType, error, meta) => {
    // Act
    const answer = await requestToken(sim, fields, contentType);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    const parsed = oauthErrorSchema.parse(answer.body);
    expect(parsed.error).toBe(error);
    expect(parsed.meta).toEqual(meta);
    expect(answer.text).not.toContain(CREDENTIAL.client_secret);
  });

  it('keeps v1 and v2 tokens apart: each opens only its own API version', async () => {
    // Prepare
    const v1 = await authenticate(sim);
    const token = await v2Token(sim);

    // Act
    const v1OnV2 = await v2<Problem>(sim, 'GET', '/v2/webhooks', v1);
    const v2OnV1 = await get(sim, '/v1/company/employees', token);
    const v2OnV2 = await v2(sim, 'GET', '/v2/webhooks', token);

    // Assess
    expect(v1OnV2.status).toBe(401);
    expect(v1OnV2.body.errors[0]?.title).toBe('Unauthorized');
    expect(v2OnV1.status).toBe(403);
    expect(v2OnV2.status).toBe(200);
  });

  it('expires and revokes v2 tokens like v1 ones', async () => {
    // Prepare
    const token = await v2Token(sim);

    // Act
    sim.setKnobs({ tokenTtlSeconds: 0 });
    const expired = await v2(sim, 'GET', '/v2/webhooks', token);
    sim.setKnobs({ tokenTtlSeconds: 86_400 });
    const fresh = await v2Token(sim);
    sim.revokeTokens();
    const revoked = await v2(sim, 'GET', '/v2/webhooks', fresh);

    // Assess
    expect(expired.status).toBe(401);
    expect(fresh).not.toBe(token);
    expect(revoked.status).toBe(401);
  });
});
