import { afterEach, describe, expect, it, vi } from 'vitest';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';

describe('the metrics the functions emit', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it.each([
    ['completed', metricNames.runsCompleted],
    ['held', metricNames.runsHeld],
    ['failed', metricNames.runsFailed],
  ] as const)('a %s run is one %s in the namespace and dimension the alarms read', async (status, metric) => {
    // Prepare: metrics on (the test environment turns them off), stdout captured
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const { createMetrics, countRunOutcome } = await import('../../functions/shared/metrics.js');
    const metrics = createMetrics();

    // Act
    countRunOutcome(metrics, status);
    metrics.publishStoredMetrics();

    // Assess
    const blob = lines
      .map((l) => l.trim())
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((b) => '_aws' in b);
    expect(blob).toBeDefined();
    const aws = blob!['_aws'] as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
    expect(aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: importMetrics.namespace, Dimensions: [[importMetrics.dimension]] });
    expect(aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)).toEqual([metric]);
    expect(blob![importMetrics.dimension]).toBe(importMetrics.service);
    expect(blob![metric]).toBe(1);
  });
});
