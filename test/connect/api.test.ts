import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectTenant } from '../../lib/connect/connect-tenant.js';
import { ConnectError } from '../../lib/connect/errors.js';
import { clearTokenCache } from '../../lib/personio/client.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { apiCaller, connectDeps } from '../helpers/connect-support.js';

const SECRET = 'sim-client-secret';

describe('the connect API', () => {
  let env: LocalEnvironment;
  let secrets: SecretsManagerClient;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 20 } });
    secrets = new SecretsManagerClient({});
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(() => {
    clearTokenCache();
    env.sim!.setKnobs({ readableAttributes: null });
  });

  // Every answer is also checked against docs/openapi.yaml.
  const call = apiCaller(() => env);

  /** The tenant's stored secret; undefined only when Secrets Manager says there is none (any other error fails the test). */
  async function storedSecret(tenantId: string): Promise<string | undefined> {
    try {
      return (await secrets.send(new GetSecretValueCommand({ SecretId: `${localNames.secretPrefix}${tenantId}` }))).SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  it('stores credentials Personio accepts and answers the mapping without the secret', async () => {
    // Act
    const response = await call('PUT', '/tenants/t-ok/personio', { clientId: 'sim-client-id', clientSecret: SECRET });

    // Assess
    expect(response.status).toBe(200);
    expect(response.raw).not.toContain(SECRET);
    expect(response.body).toMatchObject({ tenantId: 't-ok', status: 'connected', clientId: 'sim-*****t-id' });
    expect(response.body.mapping.fields.email).toBe('email');
    expect(response.body.mapping.fields.birthday).toMatch(/^dynamic_\d+$/);
    expect(JSON.parse((await storedSecret('t-ok')) ?? '{}')).toEqual({ clientId: 'sim-client-id', clientSecret: SECRET });
    expect(await env.connections.get('t-ok')).toMatchObject({ status: 'connected', clientIdMasked: 'sim-*****t-id' });
  });

  it('answers the connection status with the masked Client ID', async () => {
    // Prepare
    await call('PUT', '/tenants/t-status/personio', { clientId: 'sim-client-id', clientSecret: SECRET });

    // Act
    const response = await call('GET', '/tenants/t-status/personio');

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ tenantId: 't-status', status: 'connected', clientId: 'sim-*****t-id', runs: [] });
    expect(response.raw).not.toContain(SECRET);
  });

  it('rejects credentials Personio refuses with 422 and stores nothing', async () => {
    // Act
    const response = await call('PUT', '/tenants/t-bad/personio', { clientId: 'sim-client-id', clientSecret: 'wrong-secret' });

    // Assess
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('invalid_credentials');
    expect(response.raw).not.toContain('wrong-secret');
    expect(await storedSecret('t-bad')).toBeUndefined();
    expect(await env.connections.get('t-bad')).toBeUndefined();
  });

  it('refuses a credential that cannot read email, and warns about other unreadable default fields', async () => {
    // Prepare
    env.sim!.setKnobs({ readableAttributes: ['first_name', 'last_name', 'status'] });

    // Act
    const response = await call('PUT', '/tenants/t-noemail/personio', { clientId: 'sim-client-id', clientSecret: SECRET });

    // Assess
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('email_not_readable');
    expect(await storedSecret('t-noemail')).toBeUndefined();

    // Prepare: email readable, supervisor not
    env.sim!.setKnobs({ readableAttributes: ['email', 'first_name', 'last_name', 'status'] });
    clearTokenCache();

    // Act
    const partial = await call('PUT', '/tenants/t-partial/personio', { clientId: 'sim-client-id', clientSecret: SECRET });

    // Assess
    expect(partial.status).toBe(200);
    expect(partial.body.mapping.fields.managerPersonioId).toBeNull();
    expect(partial.body.warnings).toContain('Supervisor is not readable: enable it in Personio under API credentials to import it.');
  });

  it('says when Personio cannot be reached, and stores nothing', async () => {
    // Prepare: a connect wired to a Personio that does not answer
    const deps = connectDeps({ personio: { baseUrl: 'http://127.0.0.1:9', appId: 'DADO' } });

    // Act
    const error = await connectTenant(deps, 't-down', { clientId: 'x-client', clientSecret: 'x-secret' }, { actor: 'admin-1', caller: 'tester' }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: 'personio_unavailable', status: 502 });
    expect(await storedSecret('t-down')).toBeUndefined();
  });

  describe.each([
    ['malformed JSON', '/tenants/t-x/personio', '{"clientId": ', 'invalid_json', undefined],
    ['a body that is not an object', '/tenants/t-x/personio', '[]', 'invalid_request', undefined],
    ['a missing secret', '/tenants/t-x/personio', { clientId: 'abc' }, 'invalid_request', 'clientSecret'],
    ['a whitespace secret', '/tenants/t-x/personio', { clientId: 'abc', clientSecret: '   ' }, 'invalid_request', 'clientSecret'],
    ['a number as client id', '/tenants/t-x/personio', { clientId: 42, clientSecret: 'abc' }, 'invalid_request', 'clientId'],
    ['an unknown field', '/tenants/t-x/personio', { clientId: 'abc', clientSecret: 'abc', admin: true }, 'invalid_request', 'admin'],
    ['an oversized body', '/tenants/t-x/personio', { clientId: 'abc', clientSecret: 'x'.repeat(20_000) }, 'body_too_large', undefined],
    ['a tenant id with ..', '/tenants/..%2Fother/personio', { clientId: 'abc', clientSecret: 'abc' }, 'invalid_tenant_id', 'tenantId'],
    ['a tenant id with a slash', '/tenants/a%2Fb/personio', { clientId: 'abc', clientSecret: 'abc' }, 'invalid_tenant_id', 'tenantId'],
    ['an upper-case tenant id', '/tenants/ACME/personio', { clientId: 'abc', clientSecret: 'abc' }, 'invalid_tenant_id', 'tenantId'],
  ])('a request with %s', (_, path, body, code, field) => {
    it(`gets a 4xx ${code} naming the field, and nothing reaches Personio or storage`, async () => {
      // Prepare
      env.sim!.resetStats();
      const tenantId = decodeURIComponent(path.split('/')[2] ?? '');

      // Act
      const response = await call('PUT', path, body);

      // Assess
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.body.error.code).toBe(code);
      if (field) expect(response.body.error.message).toContain(field);
      expect(env.sim!.stats().requests).toBe(0);
      expect(await storedSecret(tenantId)).toBeUndefined();
    });
  });

  it('answers 404 for an unknown route and 405 for a wrong method', async () => {
    expect((await call('GET', '/tenants/t-ok/nothing')).status).toBe(404);
    expect((await call('POST', '/tenants/t-ok/personio', {})).body.error.code).toBe('method_not_allowed');
  });
});
