import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { importMetrics, metricNames } from '../../lib/observability/metrics.js';

/**
 * The product's metrics in CloudWatch embedded metric format (log lines, no API calls), under the
 * namespace and the single `service` dimension the stack's alarms and dashboard read.
 */
export function createMetrics(): Metrics {
  return new Metrics({ namespace: importMetrics.namespace, serviceName: importMetrics.service });
}

export function countRunOutcome(metrics: Metrics, status: 'completed' | 'held' | 'failed' | undefined): void {
  if (status === 'completed') metrics.addMetric(metricNames.runsCompleted, MetricUnit.Count, 1);
  if (status === 'held') metrics.addMetric(metricNames.runsHeld, MetricUnit.Count, 1);
  if (status === 'failed') metrics.addMetric(metricNames.runsFailed, MetricUnit.Count, 1);
}

export { MetricUnit, metricNames };
