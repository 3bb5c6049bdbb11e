import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CredentialsErrorCode } from '../../lib/credentials/store.js';
import { type FailureReason, failureReasonOf, failureReasons, importMetrics, metricNames } from '../../lib/observability/metrics.js';
import type { PersonioErrorCode } from '../../lib/personio/errors.js';
import { emfBlobs } from './emf.js';

/** What `fn` prints in EMF with metrics on (the test environment turns them off). */
async function emitted(fn: (shared: typeof import('../../functions/shared/metrics.js')) => void) {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  fn(await import('../../functions/shared/metrics.js'));
  vi.restoreAllMocks();
  return emfBlobs(lines);
}

describe('the metrics the functions emit', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it.each([
    ['completed', metricNames.runsCompleted],
    ['held', metricNames.runsHeld],
  ] as const)('a %s run is one %s in the namespace and dimensions (service, stage) the alarms read', async (status, metric) => {
    // Act
    const blobs = await emitted(({ createMetrics, countRunOutcome }) => {
      const metrics = createMetrics('prod');
      countRunOutcome(metrics, status);
      metrics.publishStoredMetrics();
    });

    // Assess
    expect(blobs).toHaveLength(1);
    expect(blobs[0]!.definition).toEqual({
      Namespace: importMetrics.namespace,
      Dimensions: [['service', 'stage']],
      Metrics: [{ Name: metric, Unit: 'Count' }],
    });
    expect(blobs[0]!.values).toMatchObject({ service: importMetrics.service, stage: 'prod', [metric]: 1 });
  });

  it('failed runs count in the total the alarms divide, and once more with their reason', async () => {
    // Act: three runs of the sweep failed as stalled
    const blobs = await emitted(({ createMetrics, countFailedRuns }) => {
      const metrics = createMetrics('staging');
      countFailedRuns(metrics, 'stalled', 3);
      metrics.publishStoredMetrics();
    });

    // Assess
    const byReason = blobs.find((b) => b.definition.Metrics.some((m) => m.Name === metricNames.runsFailedByReason));
    const total = blobs.find((b) => b.definition.Metrics.some((m) => m.Name === metricNames.runsFailed));
    expect(byReason?.definition.Dimensions).toEqual([['service', 'stage', 'reason']]);
    expect(byReason?.values).toMatchObject({ stage: 'staging', reason: 'stalled', [metricNames.runsFailedByReason]: 3 });
    expect(total?.definition.Dimensions).toEqual([['service', 'stage']]);
    expect(total?.values).toMatchObject({ stage: 'staging', [metricNames.runsFailed]: 3 });
  });

  it('emits nothing for no runs', async () => {
    // Act
    const blobs = await emitted(({ createMetrics, countFailedRuns, countRunOutcome }) => {
      const metrics = createMetrics('prod');
      countFailedRuns(metrics, 'stalled', 0);
      countRunOutcome(metrics, 'completed', 0);
      countRunOutcome(metrics, undefined);
      metrics.publishStoredMetrics();
    });

    // Assess
    expect(blobs.flatMap((b) => b.definition.Metrics)).toEqual([]);
  });
});

describe('the reason a failed run counts as', () => {
  // Records, so a new Personio or credentials error code fails to compile here until it has a reason.
  const personio: Record<PersonioErrorCode, FailureReason> = {
    invalid_credentials: 'invalid_credentials',
    forbidden: 'personio_forbidden',
    not_found: 'personio_bad_response',
    rate_limited: 'personio_rate_limited',
    unavailable: 'personio_unavailable',
    bad_response: 'personio_bad_response',
    timeout: 'personio_timeout',
  };
  const credentials: Record<CredentialsErrorCode, FailureReason> = {
    credentials_missing: 'credentials_missing',
    credentials_unreadable: 'credentials_missing',
    secrets_unavailable: 'internal',
  };

  it.each(Object.entries(personio))('a fetch refused by Personio with %s counts as %s', (code, reason) => {
    // Assess: the fetch records Personio's errors as personio_<code> (lib/fetch/run-fetch.ts)
    expect(failureReasonOf(`personio_${code}`)).toBe(reason);
  });

  it.each(Object.entries(credentials))('a fetch that could not read its credential (%s) counts as %s', (code, reason) => {
    expect(failureReasonOf(code)).toBe(reason);
  });

  it('a stalled run counts as stalled; our own errors and codes nobody mapped count as internal', () => {
    expect(failureReasonOf('run_stalled')).toBe('stalled');
    expect(failureReasonOf('fetch_failed')).toBe('internal');
    expect(failureReasonOf('something_new')).toBe('internal');
    expect(failureReasonOf(undefined)).toBe('internal');
    expect(failureReasonOf('toString')).toBe('internal');
  });

  it('only ever answers one of the few reasons the dashboard graphs', () => {
    const all = [...Object.values(personio), ...Object.values(credentials), 'stalled', 'internal'];
    expect([...new Set(all)].sort()).toEqual([...failureReasons].sort());
  });
});
