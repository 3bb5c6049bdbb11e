import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type FailureReason, failureReasonOf, importMetrics, metricNames } from '../../lib/observability/metrics.js';

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

/** Runs that finished as completed or held (`undefined`: the caller did not finish the run). */
export function countRunOutcome(metrics: Metrics, status: 'completed' | 'held' | undefined, count = 1): void {
  if (count <= 0) return;
  if (status === 'completed') metrics.addMetric(metricNames.runsCompleted, MetricUnit.Count, count);
  if (status === 'held') metrics.addMetric(metricNames.runsHeld, MetricUnit.Count, count);
}

/**
 * Runs that failed: once in the total the failure alarms read (`RunsFailed`), once with the reason
 * (`RunsFailedByReason`). The reason's dimension set differs from the others', so it goes out as its own EMF line.
 */
export function countFailedRuns(metrics: Metrics, reason: FailureReason, count = 1): void {
  if (count <= 0) return;
  metrics.addMetric(metricNames.runsFailed, MetricUnit.Count, count);
  metrics.singleMetric().addDimension(importMetrics.reasonDimension, reason).addMetric(metricNames.runsFailedByReason, MetricUnit.Count, count);
}

export { failureReasonOf, MetricUnit, metricNames };
