import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';
import { loadConfig } from '../../lib/config.js';
import { leaseUntil, runLeases } from '../../lib/runs/lease.js';
import { isFinalRunStatus, newRunId } from '../../lib/runs/run.js';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { runImportsSwitch } from '../../ops/imports-switch.js';
import { apiCaller, eventually, importThroughApi } from '../helpers/connect-support.js';
import { lambdaContext } from '../helpers/events.js';
import { emfBlobs, sumOf } from '../observability/emf.js';
import { expireLease } from '../runs/support.js';

/**
 * Issue 14 (review M3): the stage's kill switch. An operator pauses every import without a deploy (ops/imports-switch.ts
 * writes one item in the connections table): every fetch then ends without a run or a Personio call, "import now"
 * answers 503 imports_paused, while queued messages are still processed and the sweeper still settles runs. Cleared,
 * imports resume.
 */
describe('the imports kill switch', () => {
  let env: LocalEnvironment;
  /** The handlers' EMF lines (metrics on: the handlers read the switch at cold start). */
  const emitted: string[] = [];

  beforeAll(async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (!String(chunk).includes('"_aws"')) return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      emitted.push(String(chunk));
      return true;
    });
    env = await startLocalEnvironment({ simulator: { employees: 40, seed: 5 } });
  }, 60_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    await env?.stop();
    vi.unstubAllEnvs();
  });

  afterEach(async () => {
    await env.eventSource.stop();
    await runImportsSwitch(['resume', '--table', localNames.connectionsTable], io());
  });

  const call = apiCaller(() => env);
  const importNow = importThroughApi(() => env, call);
  const lines: string[] = [];
  const io = () => ({ db: createDocumentClient(), now: () => new Date('2026-12-01T09:30:00.000Z'), out: (line: string) => void lines.push(line) });
  /** What an operator types. */
  const operator = (...args: string[]) => runImportsSwitch([...args, '--table', localNames.connectionsTable], io());
  const personioCalls = () => env.sim!.stats().requests;
  let firings = 0;
  const fire = (tenantId: string) =>
    env.handlers.fetch({ tenantId, scheduledAt: new Date(Date.UTC(2026, 0, 1, 0, ++firings)).toISOString() }, lambdaContext('personio-fetch', 60_000));
  const invoke = (event: Record<string, string>) => env.handlers.fetch(event, lambdaContext('personio-fetch', 60_000));
  /** Lets the worker finish the tenant's current run, then stops it. */
  const finish = async (tenantId: string, runId: string) => {
    env.eventSource.start();
    const run = await eventually(
      async () => {
        const current = await env.runs.get(tenantId, runId);
        return current && isFinalRunStatus(current.status) && (await env.eventSource.depth()) === 0 ? current : undefined;
      },
      30_000,
      `run ${runId} to be final`,
    );
    await env.eventSource.stop();
    return run;
  };

  it('while set, starts no run and calls nobody for a scheduled firing, a console invoke or an import now; cleared, imports resume', async () => {
    // Prepare
    await connectThroughApi(env, 'switched', env.personio);
    const calls = personioCalls();

    // Act: an operator pulls the switch; the schedule fires, someone invokes the fetch, the admin asks for an import
    expect(await operator('pause', '--reason', 'Personio incident INC-1')).toBe(0);
    const scheduled = await fire('switched');
    const invoked = await invoke({ tenantId: 'switched' });
    const asked = await call('POST', '/tenants/switched/personio/imports');

    // Assess
    expect(scheduled).toEqual({ status: 'paused', reason: 'imports_paused' });
    expect(invoked).toEqual({ status: 'paused', reason: 'imports_paused' });
    expect(asked.status).toBe(503);
    expect(asked.body.error.code).toBe('imports_paused');
    expect(asked.body.error.message).toMatch(/paused for every tenant.*try an import now again later/);
    // The operator's note is for operators.
    expect(asked.raw).not.toContain('INC-1');
    expect(await env.runs.list('switched', 5)).toEqual([]);
    expect(personioCalls()).toBe(calls);
    expect((await env.connections.get('switched'))?.activeRunId).toBeUndefined();

    // Act: the operator clears it
    expect(await operator('resume')).toBe(0);
    env.eventSource.start();
    const imported = await importNow('switched');
    await env.eventSource.stop();
    const next = await fire('switched');

    // Assess: both import again
    expect(imported).toMatchObject({ status: 'completed', created: expect.any(Number) });
    expect(next).toMatchObject({ status: 'fetched', employeesFetched: 40 });
    expect(personioCalls()).toBeGreaterThan(calls);
    if (next.status === 'fetched') expect(await finish('switched', next.runId)).toMatchObject({ status: 'completed' });
  });

  it('frees the tenant when an import now accepted just before the switch reaches the fetch', async () => {
    // Prepare: "import now" has claimed the tenant for its run and invoked the fetch, which has not started yet
    await connectThroughApi(env, 'accepted', env.personio);
    const runId = newRunId(new Date());
    expect(await env.connections.claimRun('accepted', runId, leaseUntil(new Date(), runLeases.queuedMs))).toEqual({ claimed: true });
    await operator('pause', '--reason', 'maintenance');

    // Act
    const outcome = await invoke({ tenantId: 'accepted', runId });

    // Assess: no run, and the tenant is not left claimed by one that will never exist
    expect(outcome).toEqual({ status: 'paused', reason: 'imports_paused' });
    expect(await env.runs.get('accepted', runId)).toBeUndefined();
    expect((await env.connections.get('accepted'))?.activeRunId).toBeUndefined();
  });

  it('keeps processing queued messages and settling stalled runs while set', async () => {
    // Prepare: two fetched runs whose messages wait in the queue; one of them has stalled
    await connectThroughApi(env, 'queued', env.personio);
    await connectThroughApi(env, 'stalled', env.personio);
    const queued = await fire('queued');
    const stalled = await fire('stalled');
    if (queued.status !== 'fetched' || stalled.status !== 'fetched') throw new Error(`expected two fetched runs: ${queued.status}, ${stalled.status}`);
    await operator('pause', '--reason', 'maintenance');
    await expireLease('stalled', stalled.runId);

    // Act: the scheduled sweeper runs, then the worker takes the queue
    const swept = await env.handlers.sweeper();
    const finished = await finish('queued', queued.runId);

    // Assess
    expect(swept.settled.stalled).toBe(1);
    expect(await env.runs.get('stalled', stalled.runId)).toMatchObject({ status: 'failed', failure: { code: 'run_stalled' } });
    expect(finished).toMatchObject({ status: 'completed', employeesFetched: 40 });
  });

  it('counts every fetch that started nothing in FetchesPaused, by reason: the stage’s switch, or the tenant’s own pause', async () => {
    // Prepare: one tenant paused after N refusals of its stored credential (its secret no longer matches in Personio)
    await connectThroughApi(env, 'counted', env.personio);
    await new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix).put('counted', {
      clientId: env.personio.clientId,
      clientSecret: 'refused',
    });
    for (let n = 0; n < loadConfig(['pauseAfterCredentialFailures']).pauseAfterCredentialFailures; n++) expect((await fire('counted')).status).toBe('failed');
    emitted.length = 0;
    const paused = (reason: string) => sumOf(emfBlobs(emitted), metricNames.fetchesPaused, { [importMetrics.reasonDimension]: reason, stage: 'local' });

    // Act: the next hourly firing; then, with the stage paused, two more
    expect(await fire('counted')).toMatchObject({ status: 'paused', reason: 'invalid_credentials' });
    await operator('pause', '--reason', 'counting');
    await fire('counted');
    await fire('counted');

    // Assess
    expect(paused('invalid_credentials')).toBe(1);
    expect(paused('imports_paused')).toBe(2);
  });

  describe('ops/imports-switch.ts', () => {
    it('says whether imports are paused, since when and why', async () => {
      // Act
      lines.length = 0;
      await operator('status');
      await operator('pause', '--reason', 'Personio 429 storm');
      await operator('status');
      await operator('resume');
      await operator('status');

      // Assess
      const table = localNames.connectionsTable;
      expect(lines[0]).toBe(`Imports of ${table} run.`);
      expect(lines[2]).toBe(`Imports of ${table} are paused since 2026-12-01T09:30:00.000Z: Personio 429 storm`);
      expect(lines[4]).toBe(`Imports of ${table} run.`);
    });

    it.each([
      ['a pause without a reason', ['pause', '--table', 'any']],
      ['no table', ['pause', '--reason', 'x']],
      ['an unknown command', ['stop', '--table', 'any']],
      ['an unknown option', ['status', '--table', 'any', '--force']],
    ])('refuses %s with the usage, and changes nothing', async (_, args) => {
      // Act
      lines.length = 0;
      const code = await runImportsSwitch(args, io());

      // Assess
      expect(code).toBe(2);
      expect(lines.join('\n')).toContain('Usage: npx tsx ops/imports-switch.ts');
      expect(await invoke({ tenantId: 'nobody-here' })).toEqual({ status: 'not_connected' });
    });
  });
});
