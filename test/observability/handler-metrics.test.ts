import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';
import { runImport } from '../../local/runner/import-run.js';
import { localNames } from '../../local/runner/environment.js';
import { httpEvent, lambdaContext, sqsEvent } from '../helpers/events.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';
import { type RunsWorld, startRunsWorld } from '../runs/support.js';
import { type EmfBlob, emfBlobs, sumOf } from './emf.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The handlers' metrics as CloudWatch would read them from their log lines, against the local stack (stage `local`):
 * every metric carries the stage, failed runs carry their reason, and the worker counts the messages it reports as
 * failed (its invocation succeeds, so Lambda's Errors never would).
 */
describe('the metrics the handlers emit', () => {
  let world: RunsWorld;
  const lines: string[] = [];
  const stage = { [importMetrics.stageDimension]: 'local' };

  beforeAll(async () => {
    // Prepare: metrics on before the handlers load (they read the switch at cold start), stdout recorded
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    world = await startRunsWorld();
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.includes('"_aws"')) {
        lines.push(text);
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
  }, 60_000);

  afterEach(() => {
    lines.length = 0;
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await world?.stop();
    vi.unstubAllEnvs();
  });

  /** What was emitted so far, once `done` holds (the worker publishes after its batch, a moment after the run is final). */
  async function emittedWhen(done: (blobs: EmfBlob[]) => boolean): Promise<EmfBlob[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const blobs = emfBlobs(lines);
      if (done(blobs) || Date.now() > deadline) return blobs;
      await sleep(50);
    }
  }

  it('counts a run Personio refused (401) as failed, with reason invalid_credentials, and its Personio requests, for the stage', async () => {
    // Prepare: the tenant's credential is revoked in Personio after it connected
    const personio = await world.personio('refused');
    await personio.connect();
    personio.revoke();

    // Act
    const outcome = await world.env.handlers.fetch({ tenantId: 'refused' }, lambdaContext('personio-fetch', 60_000));

    // Assess
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'personio_invalid_credentials' } });
    const blobs = emfBlobs(lines);
    const byReason = blobs.filter((b) => b.definition.Metrics.some((m) => m.Name === metricNames.runsFailedByReason));
    expect(byReason.map((b) => b.definition.Dimensions)).toEqual([[['service', 'stage', 'reason']]]);
    expect(sumOf(blobs, metricNames.runsFailedByReason, { ...stage, reason: 'invalid_credentials' })).toBe(1);
    expect(sumOf(blobs, metricNames.runsFailed, stage)).toBe(1);
    expect(sumOf(blobs, metricNames.personioRequests, stage)).toBeGreaterThanOrEqual(1);
    expect(sumOf(blobs, metricNames.personio429, stage)).toBe(0);
    for (const blob of blobs) expect(blob.values[importMetrics.stageDimension], JSON.stringify(blob.definition)).toBe('local');
  });

  it('counts a completed import once, and every message the worker handled, none failed, for the stage', async () => {
    // Prepare
    const personio = await world.personio('fine', { employees: 30 });
    await personio.connect();

    // Act
    const report = await runImport(world.env, 'fine', { timeoutMs: 60_000 });
    await world.env.eventSource.stop();

    // Assess
    expect(report.status).toBe('completed');
    const sent = (await world.env.runs.get('fine', report.runId))?.messagesSent ?? 0;
    expect(sent).toBeGreaterThan(0);
    const blobs = await emittedWhen((b) => sumOf(b, metricNames.importMessages, stage) >= sent);
    expect(sumOf(blobs, metricNames.runsCompleted, stage)).toBe(1);
    expect(sumOf(blobs, metricNames.runsFailed)).toBe(0);
    expect(sumOf(blobs, metricNames.importMessages, stage)).toBe(sent);
    expect(sumOf(blobs, metricNames.importMessagesFailed, stage)).toBe(0);
    expect(sumOf(blobs, metricNames.employeesImported, stage)).toBe(report.created + report.updated + report.unchanged);
  });

  it('counts an audit entry connect could not store (the change still succeeds), for the stage', async () => {
    // Prepare: DynamoDB fails the audit table's writes (not contention, so nothing retries them)
    const personio = await world.personio('unaudited');
    await personio.connect();
    lines.length = 0;
    const faults = injectDynamoFaults([
      { command: 'Put', table: localNames.auditTable, fault: { error: () => Object.assign(new Error('DynamoDB failed'), { name: 'InternalServerError' }) } },
    ]);

    // Act
    let answer: Awaited<ReturnType<typeof world.env.handlers.connect>>;
    try {
      answer = await world.env.handlers.connect(httpEvent('PUT', '/tenants/unaudited/personio/schedule', { enabled: false }));
    } finally {
      faults.restore();
    }

    // Assess
    expect(answer.statusCode).toBe(200);
    expect(sumOf(emfBlobs(lines), metricNames.auditEntriesNotStored, stage)).toBe(1);
  });

  it('counts a message the worker reports as failed, though its invocation succeeds', async () => {
    // Act: a body that is no import message, next to nothing else
    const answer = await world.env.handlers.worker(
      sqsEvent([{ MessageId: 'unreadable', Body: '{"not":"an import message"}' }]),
      lambdaContext('personio-worker', 60_000),
    );

    // Assess
    expect(answer?.batchItemFailures).toEqual([{ itemIdentifier: 'unreadable' }]);
    const blobs = emfBlobs(lines);
    expect(sumOf(blobs, metricNames.importMessages, stage)).toBe(1);
    expect(sumOf(blobs, metricNames.importMessagesFailed, stage)).toBe(1);
  });
});
