import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clearTokenCache } from '../lib/personio/client.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../local/runner/environment.js';
import { connectThroughApi, runImport } from '../local/runner/import-run.js';
import { lambdaContext } from './helpers/events.js';

describe('the fetch', () => {
  let env: LocalEnvironment;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 120, seed: 11 } });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(() => {
    clearTokenCache();
    env.sim!.setKnobs({ errorRate: 0, latencyMs: 0 });
  });

  const invoke = (event: unknown, timeoutMs = 60_000) => env.handlers.fetch(event, lambdaContext('personio-fetch', timeoutMs));

  describe.each([
    ['no tenant', {}],
    ['a tenant id with a path', { tenantId: '../other' }],
    ['an unknown mode', { tenantId: 'acme', mode: 'partial' }],
    ['an extra field', { tenantId: 'acme', force: true }],
    ['a string', 'acme'],
  ])('an event with %s', (_, event) => {
    it('fails with a message that says what a valid event looks like', async () => {
      await expect(invoke(event)).rejects.toThrow(/Expected \{"tenantId"/);
    });
  });

  it('answers not_connected for a tenant that never connected', async () => {
    expect(await invoke({ tenantId: 'nobody' })).toEqual({ status: 'not_connected' });
  });

  it('accepts the schedule’s plain input as well as a scheduled event, and sends every employee once', async () => {
    // Prepare
    await connectThroughApi(env, 'plain', env.personio);

    // Act
    const outcome = await invoke({ tenantId: 'plain' });

    // Assess
    expect(outcome).toMatchObject({ status: 'fetched', employeesFetched: 120, personio429: 0 });
    const run = outcome.status === 'fetched' ? await env.runs.get('plain', outcome.runId) : undefined;
    expect(run).toMatchObject({ status: 'processing', employeesFetched: 120, messagesSent: outcome.status === 'fetched' ? outcome.messagesSent : -1, trigger: 'invoke' });
  });

  it('refuses a second fetch of the same tenant while one runs', async () => {
    // Prepare: a slow Personio keeps the first fetch busy
    await connectThroughApi(env, 'busy', env.personio);
    env.sim!.setKnobs({ latencyMs: 400, latencyJitter: false });

    // Act
    const first = invoke({ tenantId: 'busy' });
    await new Promise((r) => setTimeout(r, 150));
    const second = await invoke({ tenantId: 'busy' });

    // Assess
    expect(second.status).toBe('already_running');
    const firstOutcome = await first;
    expect(firstOutcome.status).toBe('fetched');
    expect(second.status === 'already_running' && second.runId).toBe(firstOutcome.status === 'fetched' ? firstOutcome.runId : '');
    // The lock is released: the next fetch may run.
    env.sim!.setKnobs({ latencyMs: 0 });
    expect((await invoke({ tenantId: 'busy' })).status).toBe('fetched');
  });

  it('marks the run failed with the reason when Personio stays down, and deactivates nobody', async () => {
    // Prepare: one complete import, then Personio answers only 5xx
    await connectThroughApi(env, 'down', env.personio);
    const complete = await runImport(env, 'down');
    await env.eventSource.stop();
    env.sim!.setKnobs({ errorRate: 1 });

    // Act: a short Lambda budget, so the retries give up
    const outcome = await invoke({ tenantId: 'down' }, 20_000);

    // Assess
    expect(outcome.status).toBe('failed');
    const run = outcome.status === 'failed' ? await env.runs.get('down', outcome.runId) : undefined;
    expect(run?.status).toBe('failed');
    expect(run?.failure?.code).toMatch(/^personio_(unavailable|timeout)$/);
    const users = await env.users.list('down');
    expect(users.filter((u) => u.active)).toHaveLength(users.filter((u) => u.status !== 'inactive').length);
    expect(complete.deactivated).toBe(0);
  }, 60_000);

  it('marks the connection invalid when Personio no longer accepts its credentials', async () => {
    // Prepare: connected with a credential the simulator then forgets
    await connectThroughApi(env, 'revoked', env.personio);
    const { CredentialsStore } = await import('../lib/credentials/store.js');
    const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    await new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix).put('revoked', { clientId: 'sim-client-id', clientSecret: 'revoked-secret' });
    clearTokenCache();

    // Act
    const outcome = await invoke({ tenantId: 'revoked' });

    // Assess
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && outcome.failure.code).toBe('personio_invalid_credentials');
    expect(JSON.stringify(outcome)).not.toContain('revoked-secret');
    expect((await env.connections.get('revoked'))?.status).toBe('invalid_credentials');
  });
});
