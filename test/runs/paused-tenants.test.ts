import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { runFetch, type FetchDeps, type FetchOutcome } from '../../lib/fetch/run-fetch.js';
import { QueueSender } from '../../lib/queue/sender.js';
import { PAUSED_ATTEMPT_INTERVAL_MS } from '../../lib/tenants/pause.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';
import { localNames } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { apiCaller, eventually, importThroughApi } from '../helpers/connect-support.js';
import { lambdaContext } from '../helpers/events.js';
import { useRunsWorld, type TenantPersonio } from './support.js';

/**
 * Issue 14 (review H5): a tenant whose stored credential Personio refuses on N runs in a row
 * (PAUSE_AFTER_CREDENTIAL_FAILURES, 3 unless set) is paused instead of failing every hour forever. Its scheduled firings
 * then call Personio once a day; "import now" always runs; a run that gets through, or a reconnect, ends the pause and
 * the count. The status API says what happened and what to do. A credential replaced during a run is never counted.
 */
describe('paused tenants', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);
  const importNow = importThroughApi(() => world.env, call);
  const secrets = new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix);
  // Read as the handlers read it (the local stack leaves it unset: the default).
  const threshold = () => loadConfig(['pauseAfterCredentialFailures']).pauseAfterCredentialFailures;

  let firings = 0;
  /** One firing of the tenant's EventBridge Scheduler schedule, through the fetch handler (real clock). */
  const fire = (tenantId: string): Promise<FetchOutcome> =>
    world.env.handlers.fetch({ tenantId, scheduledAt: new Date(Date.UTC(2026, 0, 1, 0, 0, ++firings)).toISOString() }, lambdaContext('personio-fetch', 60_000));
  /** The same firing through the fetch's lib function, on a clock of the test's choosing. */
  const fireAt = (tenantId: string, now: Date): Promise<FetchOutcome> => {
    const deps: FetchDeps = {
      connections: world.env.connections,
      runs: world.env.runs,
      users: world.env.users,
      credentials: secrets,
      createSender: () => new QueueSender({ sqs: world.env.sqs, queueUrl: world.env.queueUrls.importQueueUrl }),
      personio: { baseUrl: world.router.url, appId: 'DADO' },
      now: () => now,
      deactivationThreshold: 0.2,
      pauseAfterCredentialFailures: threshold(),
    };
    return runFetch(deps, { tenantId, mode: 'full', trigger: 'schedule', scheduledAt: now.toISOString() }, Date.now() + 60_000);
  };

  /** The admin's secret no longer matches in Personio (rotated there, not in Dado): auth answers 401. */
  const refuse = (personio: TenantPersonio) =>
    secrets.put(personio.tenantId, { clientId: personio.credential.clientId, clientSecret: `refused-${Math.random().toString(36).slice(2, 10)}` });
  /** Personio accepts the stored credential again (fixed in Personio; nobody reconnected). */
  const accept = (personio: TenantPersonio) => secrets.put(personio.tenantId, personio.credential);
  const requests = (personio: TenantPersonio) => personio.sim.stats().requests;
  const status = async (tenantId: string) => {
    const answer = await call('GET', `/tenants/${tenantId}/personio`);
    expect(answer.status).toBe(200);
    return answer.body as { status: string; message: string; paused: { since: string; reason: string; failures: number; nextAttemptAt: string } | null };
  };
  const refusedRun = { status: 'failed', failure: { code: 'personio_invalid_credentials' } };

  /** A connected tenant whose scheduled imports were refused `threshold()` times: paused. */
  const pausedTenant = async (tenantId: string): Promise<TenantPersonio> => {
    const personio = await world.personio(tenantId);
    await personio.connect();
    await refuse(personio);
    for (let n = 0; n < threshold(); n++) expect(await fire(tenantId)).toMatchObject(refusedRun);
    expect((await status(tenantId)).paused).not.toBeNull();
    return personio;
  };

  it('keeps fetching after N-1 refusals, pauses at the Nth, then skips the hourly firings without calling Personio', async () => {
    // Prepare: a connected tenant whose credential Personio refuses from now on
    const personio = await world.personio('refused');
    await personio.connect();
    await refuse(personio);

    // Act: N-1 scheduled firings
    for (let n = 1; n < threshold(); n++) expect(await fire('refused')).toMatchObject(refusedRun);
    const beforeNth = requests(personio);

    // Assess: not paused; the next firing still calls Personio
    expect(await status('refused')).toMatchObject({ status: 'invalid_credentials', paused: null });
    expect(await fire('refused')).toMatchObject(refusedRun);
    expect(requests(personio)).toBeGreaterThan(beforeNth);

    // Assess: the Nth refusal paused the tenant, and the status API says what happened and what to do
    const paused = await status('refused');
    expect(paused).toMatchObject({ status: 'invalid_credentials', paused: { reason: 'invalid_credentials', failures: threshold() } });
    expect(Date.parse(paused.paused!.nextAttemptAt) - Date.parse(paused.paused!.since)).toBe(PAUSED_ATTEMPT_INTERVAL_MS);
    expect(paused.message).toContain('once a day');
    expect(paused.message).toContain('PUT /tenants/refused/personio');
    expect(paused.message).toContain('Settings → Integrations → API credentials');

    // Act: the next hourly firing
    const runsBefore = await world.env.runs.list('refused', 20);
    const callsBefore = requests(personio);
    const skipped = await fire('refused');

    // Assess: nothing started, nobody called
    expect(skipped).toEqual({ status: 'paused', reason: 'invalid_credentials', nextAttemptAt: paused.paused!.nextAttemptAt });
    expect(requests(personio)).toBe(callsBefore);
    expect(await world.env.runs.list('refused', 20)).toEqual(runsBefore);
  });

  it('tries a paused tenant’s credential from the first firing a day after the last try, and resumes once Personio accepts it', async () => {
    // Prepare
    const personio = await pausedTenant('daily');
    const since = Date.parse((await status('daily')).paused!.since);
    const at = (ms: number) => new Date(since + ms);
    const hour = 60 * 60_000;
    const calls = requests(personio);

    // Act + Assess: 23 hours later, still skipped without a call
    expect(await fireAt('daily', at(23 * hour))).toMatchObject({ status: 'paused', reason: 'invalid_credentials' });
    expect(requests(personio)).toBe(calls);

    // Act + Assess: 24 hours later, one try (still refused: counted, still paused), and the next day's wait starts from it
    expect(await fireAt('daily', at(24 * hour + 60_000))).toMatchObject(refusedRun);
    expect(requests(personio)).toBeGreaterThan(calls);
    const retried = await status('daily');
    expect(retried.paused).toMatchObject({ failures: threshold() + 1, nextAttemptAt: at(48 * hour + 60_000).toISOString() });
    const afterTry = requests(personio);
    expect(await fireAt('daily', at(25 * hour))).toMatchObject({ status: 'paused' });
    expect(requests(personio)).toBe(afterTry);

    // Act: the admin fixes the credential in Personio; the next day's try gets through
    await accept(personio);
    const resumed = await fireAt('daily', at(49 * hour));

    // Assess
    expect(resumed).toMatchObject({ status: 'fetched', employeesFetched: 30 });
    expect(await status('daily')).toMatchObject({ status: 'connected', paused: null });
    expect((await world.env.connections.get('daily'))?.credentialFailures).toBeUndefined();
    // The resumed run's messages complete it (and leave no message queued for the next test)
    world.env.eventSource.start();
    const completed = await eventually(
      async () => {
        const run = resumed.status === 'fetched' ? await world.env.runs.get('daily', resumed.runId) : undefined;
        return run?.status === 'completed' && (await world.env.eventSource.depth()) === 0 ? run : undefined;
      },
      30_000,
      'the resumed run to complete',
    );
    await world.env.eventSource.stop();
    expect(completed).toMatchObject({ employeesFetched: 30 });
  });

  it('still imports now for a paused tenant, and a run that gets through unpauses it and restarts the count', async () => {
    // Prepare
    const personio = await pausedTenant('trying');

    // Act: the admin tries at once, before fixing anything
    const calls = requests(personio);
    const refused = await importNow('trying');

    // Assess: the import ran (and failed), and the tenant stays paused
    expect(refused).toMatchObject({ status: 'failed', findings: [{ code: 'personio_invalid_credentials' }] });
    expect(requests(personio)).toBeGreaterThan(calls);
    expect((await status('trying')).paused).toMatchObject({ failures: threshold() + 1 });

    // Act: fixed in Personio, the admin imports now again
    await accept(personio);
    world.env.eventSource.start();
    const done = await importNow('trying');
    await world.env.eventSource.stop();

    // Assess: imported; no longer paused, and the next refusals start from zero (N-1 of them pause nothing)
    expect(done.status).toBe('completed');
    expect(await status('trying')).toMatchObject({ status: 'connected', paused: null });
    await refuse(personio);
    for (let n = 1; n < threshold(); n++) expect(await fire('trying')).toMatchObject(refusedRun);
    expect(await status('trying')).toMatchObject({ status: 'invalid_credentials', paused: null });
  });

  it('ends the pause and the count when the admin reconnects', async () => {
    // Prepare
    const personio = await pausedTenant('reconnected');

    // Act: connect again (Personio accepts the credential given)
    await personio.connect();

    // Assess: connected, not paused; the next hourly firing imports
    expect(await status('reconnected')).toMatchObject({ status: 'connected', paused: null });
    expect((await world.env.connections.get('reconnected'))?.credentialFailures).toBeUndefined();
    const calls = requests(personio);
    expect(await fire('reconnected')).toMatchObject({ status: 'fetched', employeesFetched: 30 });
    expect(requests(personio)).toBeGreaterThan(calls);
  });

  it('does not count the refusal of a credential the admin replaced during the run', async () => {
    // Prepare: Personio knows two credentials of the tenant; the first has been refused N-1 times in a row
    const [oldCredential, newCredential] = [1, 2].map((n) => ({
      clientId: `replaced-client-${n}`,
      clientSecret: `replaced-secret-${n}-${Math.random().toString(36).slice(2, 10)}`,
    }));
    const sim = await startPersonioSim({ employees: 150, seed: 7, credentials: [oldCredential!, newCredential!] });
    world.afterTest(async () => {
      world.router.remove(newCredential!.clientId);
      await sim.close();
    });
    const oldGate = world.router.add(oldCredential!.clientId, sim);
    world.router.add(newCredential!.clientId, sim);
    await connectThroughApi(world.env, 'replaced', { url: world.router.url, ...oldCredential! });
    await secrets.put('replaced', { clientId: oldCredential!.clientId, clientSecret: 'refused-secret' });
    for (let n = 1; n < threshold(); n++) expect(await fire('replaced')).toMatchObject(refusedRun);
    await secrets.put('replaced', oldCredential!);
    // A fetch with the old credential waits for its first page
    oldGate.close();
    const fetching = fire('replaced');
    expect(await oldGate.waitHeld(1, 30_000)).toBe(true);

    // Act: the admin connects the new credential and revokes the old one in Personio; the waiting fetch is refused
    await connectThroughApi(world.env, 'replaced', { url: world.router.url, ...newCredential! });
    world.router.remove(oldCredential!.clientId);
    const outcome = await fetching;

    // Assess: the old credential's refusal counted nothing against the new one
    expect(outcome).toMatchObject(refusedRun);
    expect(await status('replaced')).toMatchObject({ status: 'connected', paused: null });
    expect((await world.env.connections.get('replaced'))?.credentialFailures).toBeUndefined();
  });

  it('never pauses or un-disconnects a tenant that disconnected while its refused fetch ran', async () => {
    // Prepare: N-1 refusals; the next fetch waits for its first page
    const personio = await world.personio('leaving', { employees: 150 });
    await personio.connect();
    await refuse(personio);
    for (let n = 1; n < threshold(); n++) expect(await fire('leaving')).toMatchObject(refusedRun);
    await accept(personio);
    personio.gate.close();
    const fetching = fire('leaving');
    expect(await personio.gate.waitHeld(1, 30_000)).toBe(true);

    // Act: the admin disconnects; Personio refuses the fetch's next request
    expect((await call('DELETE', '/tenants/leaving/personio')).status).toBe(200);
    personio.revoke();
    const outcome = await fetching;

    // Assess
    expect(outcome).toMatchObject(refusedRun);
    expect(await status('leaving')).toMatchObject({ status: 'disconnected', paused: null });
    expect((await world.env.connections.get('leaving'))?.paused).toBeUndefined();
  });
});
