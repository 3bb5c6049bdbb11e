import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type FailureReason, failureReasonOf, importMetrics, metricNames } from '../../lib/observability/metrics.js';
import type { RunMode } from '../../lib/runs/run.js';

/**
 * The product's metrics in CloudWatch embedded metric format (log lines, no API calls), under the namespace and the
 * `service` and `stage` dimensions the stack's alarms and dashboard read. `stage` is the function's DADO_STAGE: two
 * stages in one account never share a metric.
 */
export function createMetrics(stage: string): Metrics {
  return new Metrics({
    namespace: importMetrics.namespace,
    serviceName: importMetrics.service,
    defaultDimensions: { [importMetrics.stageDimension]: stage },
  });
}

/**
 * Runs that finished as completed or held (`undefined`: the caller did not finish the run). Delta runs count in their
 * own metrics (see `deltaRuns` in lib/observability/metrics.ts), so the run alarms see full reconciliations only.
 */
export function countRunOutcome(metrics: Metrics, status: 'completed' | 'held' | undefined, count = 1, mode: RunMode = 'full'): void {
  if (count <= 0) return;
  const delta = mode === 'delta';
  if (status === 'completed') metrics.addMetric(delta ? metricNames.deltaRunsCompleted : metricNames.runsCompleted, MetricUnit.Count, count);
  if (status === 'held') metrics.addMetric(delta ? metricNames.deltaRunsHeld : metricNames.runsHeld, MetricUnit.Count, count);
}

/**
 * Runs that failed: once in the total the failure alarms read (`RunsFailed`), once with the reason
 * (`RunsFailedByReason`). The reason's dimension set differs from the others', so it goes out as its own EMF line.
 */
export function countFailedRuns(metrics: Metrics, reason: FailureReason, count = 1, mode: RunMode = 'full'): void {
  if (count <= 0) return;
  // Not by reason either: CredentialsRefused divides the 401s by the full runs of the hour.
  if (mode === 'delta') {
    metrics.addMetric(metricNames.deltaRunsFailed, MetricUnit.Count, count);
    return;
  }
  metrics.addMetric(metricNames.runsFailed, MetricUnit.Count, count);
  metrics.singleMetric().addDimension(importMetrics.reasonDimension, reason).addMetric(metricNames.runsFailedByReason, MetricUnit.Count, count);
}

export { failureReasonOf, MetricUnit, metricNames };
