import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';
import { runImport } from '../../local/runner/import-run.js';
import { type EmfBlob, emfBlobs, sumOf } from '../observability/emf.js';
import { useRunsWorld } from '../runs/support.js';
import { changeBody, deliverChanges, latestDeltaReport, sleep } from './support.js';

/**
 * The hourly guard on webhook deletions (lib/runs/finalize-delta.ts) across delta runs, and how their outcomes are
 * counted: in the delta runs' own metrics, never in the full runs' the run alarms read.
 */
describe('the webhook deletion guard', () => {
  // Metrics on before the handlers load (they read the switch at cold start); their EMF lines recorded from stdout.
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const world = useRunsWorld();
  const env = () => world.env;
  const lines: string[] = [];
  const stage = { [importMetrics.stageDimension]: 'local' };

  beforeAll(() => {
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.includes('"_aws"')) {
        lines.push(text);
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
  });

  afterAll(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  /** What was emitted so far, once `done` holds (a handler publishes after its batch, a moment after the run is final). */
  async function emittedWhen(done: (blobs: EmfBlob[]) => boolean): Promise<EmfBlob[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const blobs = emfBlobs(lines);
      if (done(blobs) || Date.now() > deadline) return blobs;
      await sleep(50);
    }
  }

  it('holds a second delta run’s deletions within the hour of a held one, and counts both as held delta runs only', async () => {
    // Prepare: 28 active users, 20 % allowed; a first delta run would deactivate 7 (25 %) and is held
    const personio = await world.personio('guard-burst', { employees: 30 });
    await personio.connect();
    expect((await runImport(env(), 'guard-burst')).status).toBe('completed');
    const ids = personio.sim
      .employees()
      .filter((e) => e.status !== 'inactive')
      .map((e) => e.id);
    const first = ids.slice(0, 7);
    const later = ids[7] as number;
    const changed = ids[8] as number;
    personio.sim.removeEmployees([...first, later]);
    personio.sim.updateEmployee(changed, { position: 'Still here' });
    // The full run's outcome is published a moment after it is final: waited for, then left out of what follows.
    await emittedWhen((b) => sumOf(b, metricNames.runsCompleted, stage) >= 1);
    lines.length = 0;
    await deliverChanges([...first.map((id) => changeBody('guard-burst', id, 'person.deleted')), changeBody('guard-burst', changed)]);
    const held = await latestDeltaReport(env(), 'guard-burst');
    expect(held).toMatchObject({ mode: 'delta', status: 'held', deactivated: 0, updated: 1 });

    // Act: one more deletion within the hour (alone: 1 of 28, under both the share and the least count)
    await deliverChanges([changeBody('guard-burst', later, 'person.deleted')]);
    const second = await latestDeltaReport(env(), 'guard-burst');

    // Assess: held too, its finding naming the held ones; nobody deactivated
    expect(second.runId).not.toBe(held.runId);
    expect(second).toMatchObject({ mode: 'delta', status: 'held', deactivated: 0 });
    const run = await env().runs.get('guard-burst', second.runId);
    expect(run?.pendingDeactivations).toBe(1);
    expect(run?.findings.find((f) => f.code === 'deactivation_held')?.message).toContain('the 7 held for approval');
    const users = await env().users.list('guard-burst');
    expect(users.filter((u) => !u.active && u.deactivationReason !== undefined)).toEqual([]);
    // Assess: counted as held delta runs, never as held (or completed) runs, whichever handler finished them
    const blobs = await emittedWhen((b) => sumOf(b, metricNames.deltaRunsHeld, stage) >= 2);
    expect(sumOf(blobs, metricNames.deltaRunsHeld, stage)).toBe(2);
    expect(sumOf(blobs, metricNames.runsHeld)).toBe(0);
    expect(sumOf(blobs, metricNames.runsCompleted)).toBe(0);
    expect(sumOf(blobs, metricNames.deltaRunsCompleted)).toBe(0);
  });
});
