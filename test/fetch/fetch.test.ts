import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import { isFinalRunStatus, type RunReport } from '../../lib/runs/run.js';
import type { UserRecord } from '../../lib/users/user.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { apiCaller } from '../helpers/connect-support.js';
import { lambdaContext, scheduledEvent } from '../helpers/events.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it answers something other than undefined. */
async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const byPersonioId = (users: UserRecord[]) => [...users].sort((a, b) => a.personioId - b.personioId);

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
  // The connect API, as Dado's settings page reads a run report (every answer checked against docs/openapi.yaml).
  const call = apiCaller(() => env);

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
    // Prepare: one tenant per event shape (a fetch's run holds its tenant until the run is final, and nobody works the queue here)
    await connectThroughApi(env, 'plain', env.personio);
    await connectThroughApi(env, 'scheduled', env.personio);

    // Act: the Scheduler's plain input, and an EventBridge scheduled event carrying it in `detail`
    const plain = await invoke({ tenantId: 'plain' });
    const scheduled = await invoke(scheduledEvent('scheduled'));

    // Assess: both are accepted and start a run of their own tenant that sent every employee
    for (const [tenantId, outcome, trigger] of [
      ['plain', plain, 'invoke'],
      ['scheduled', scheduled, 'schedule-rule'],
    ] as const) {
      expect(outcome, tenantId).toMatchObject({ status: 'fetched', employeesFetched: 120, personio429: 0 });
      if (outcome.status !== 'fetched') continue;
      expect(outcome.messagesSent).toBeGreaterThan(0);
      const run = await env.runs.get(tenantId, outcome.runId);
      expect(run, tenantId).toMatchObject({ tenantId, status: 'processing', employeesFetched: 120, messagesSent: outcome.messagesSent, trigger });
    }
    expect(plain.status === 'fetched' && scheduled.status === 'fetched' && plain.runId !== scheduled.runId).toBe(true);
  });

  it('refuses a second fetch of the same tenant while one runs', async () => {
    // Prepare: a slow Personio keeps the first fetch busy
    await connectThroughApi(env, 'busy', env.personio);
    env.sim!.setKnobs({ latencyMs: 400, latencyJitter: false });

    // Act: the second fetch starts only once the first has taken the tenant (its run exists: the lock is taken before the run is created)
    const first = invoke({ tenantId: 'busy' });
    const firstRunId = await waitFor(async () => (await env.runs.list('busy', 1))[0]?.runId, 'the first fetch to open its run');
    const second = await invoke({ tenantId: 'busy' });

    // Assess
    expect(second).toEqual({ status: 'already_running', runId: firstRunId });
    const firstOutcome = await first;
    expect(firstOutcome).toMatchObject({ status: 'fetched', runId: firstRunId, employeesFetched: 120 });
    expect(await env.runs.list('busy', 5)).toHaveLength(1);

    // Act: the worker finishes the first run
    env.sim!.setKnobs({ latencyMs: 0 });
    env.eventSource.start();
    try {
      await waitFor(async () => {
        const run = await env.runs.get('busy', firstRunId);
        return run && isFinalRunStatus(run.status) && (await env.eventSource.depth()) === 0 ? run : undefined;
      }, 'the first run to be final');
    } finally {
      await env.eventSource.stop();
    }

    // Assess: the tenant is free again, the next fetch runs
    const third = await invoke({ tenantId: 'busy' });
    expect(third.status).toBe('fetched');
    expect(third.status === 'fetched' && third.runId).not.toBe(firstRunId);
  });

  it('marks the run failed with the reason when Personio stays down, and deactivates nobody', async () => {
    // Prepare: one complete import, then Personio answers only 5xx
    await connectThroughApi(env, 'down', env.personio);
    const complete = await runImport(env, 'down');
    await env.eventSource.stop();
    expect(complete.status).toBe('completed');
    const before = byPersonioId(await env.users.list('down'));
    expect(before.filter((u) => u.active).length).toBeGreaterThan(0);
    env.sim!.setKnobs({ errorRate: 1 });

    // Act: a short Lambda budget, so the retries give up
    const outcome = await invoke({ tenantId: 'down' }, 20_000);

    // Assess: the failed run's own report, as the API answers it
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.runId).not.toBe(complete.runId);
    const answer = await call('GET', `/tenants/down/personio/imports/${outcome.runId}`);
    expect(answer.status).toBe(200);
    const report = answer.body as RunReport;
    expect(report).toMatchObject({ runId: outcome.runId, status: 'failed', deactivated: 0 });
    expect(report.findings[0]?.code).toMatch(/^personio_(unavailable|timeout)$/);
    // Nobody deactivated, nothing changed: the users are exactly as the complete import left them.
    const after = byPersonioId(await env.users.list('down'));
    expect(after).toEqual(before);
    expect(after.filter((u) => u.active)).toHaveLength(after.filter((u) => u.status !== 'inactive').length);
    expect(after.filter((u) => u.deactivationReason !== undefined)).toEqual([]);
  }, 60_000);

  it('marks the connection invalid when Personio no longer accepts its credentials', async () => {
    // Prepare: connected with a credential the simulator then forgets
    await connectThroughApi(env, 'revoked', env.personio);
    const { CredentialsStore } = await import('../../lib/credentials/store.js');
    const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    await new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix).put('revoked', {
      clientId: 'sim-client-id',
      clientSecret: 'revoked-secret',
    });
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
