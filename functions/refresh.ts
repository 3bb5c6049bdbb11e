import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { loadConfig } from '../lib/config.js';
import { type ChangeSkipReason, importMetrics } from '../lib/observability/metrics.js';
import { refreshBatch } from '../lib/refresh/batch.js';
import { createSqsClient, createStoreClient } from './shared/clients.js';
import { personioImportDeps } from './shared/personio-import.js';
import { createLogger, describeError } from './shared/logger.js';
import { countFailedRuns, countRunOutcome, createMetrics, failureReasonOf, metricNames, MetricUnit } from './shared/metrics.js';

const config = loadConfig([
  'usersTable',
  'connectionsTable',
  'runsTable',
  'importQueueUrl',
  'secretPrefix',
  'personioBaseUrl',
  'personioAppId',
  'deactivationThreshold',
  'runRetentionDays',
  // Its own queue: changes given back while the tenant's budget is busy come back in seconds, not after the timeout.
  'changesQueueUrl',
  'stage',
  // Read by every function that may finish a run (the worker too), though a delta run counts no credential failure.
  'pauseAfterCredentialFailures',
]);
const db = createStoreClient();
const sqs = createSqsClient();
const logger = createLogger('personio-refresh');
const metrics = createMetrics(config.stage);
const deps = personioImportDeps(config, db, sqs);

// Bodies are parsed per record in lib/refresh/batch.ts (a malformed one fails alone); this is the event's own shape.
const eventSchema = z.object({ Records: z.array(z.object({ messageId: z.string(), receiptHandle: z.string(), body: z.string() })) });

/** How soon changes given back for a busy budget are delivered again (the queue's own timeout is 30 minutes). */
const DEFERRED_VISIBILITY_SECONDS = 30;

/**
 * The changes queue's consumer: one delta run per tenant of the batch (lib/refresh/batch.ts). Records of a tenant whose
 * run failed come back as batch item failures, so SQS delivers them again; its DLQ takes what never succeeds. Those of
 * a tenant whose Personio budget was busy (no run) come back too, made visible again within about 30 s.
 */
export const handler = async (event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
  const { Records } = eventSchema.parse(event);
  try {
    const outcome = await refreshBatch(deps, Records, Date.now() + context.getRemainingTimeInMillis());
    const skipped = (reason: ChangeSkipReason, count: number) =>
      metrics.singleMetric().addDimension(importMetrics.reasonDimension, reason).addMetric(metricNames.changesSkipped, MetricUnit.Count, count);
    if (outcome.malformed > 0) skipped('malformed', outcome.malformed);
    for (const tenant of outcome.tenants) {
      const { tenantId, personIds, messages } = tenant;
      if ('error' in tenant) {
        logger.error('refresh crashed', { tenantId, personIds, messages, error: tenant.error });
        continue;
      }
      const result = tenant.outcome;
      logger.info('refresh finished', { tenantId, personIds, messages, ...result });
      if (result.status === 'skipped') {
        skipped(result.reason, messages);
        continue;
      }
      if (result.status === 'busy') {
        metrics.addMetric(metricNames.changesDeferred, MetricUnit.Count, messages);
        continue;
      }
      metrics.addMetric(metricNames.deltaRuns, MetricUnit.Count, 1);
      metrics.addMetric(metricNames.personioRequests, MetricUnit.Count, result.personioRequests);
      metrics.addMetric(metricNames.personio429, MetricUnit.Count, result.personio429);
      if (result.status === 'failed') countFailedRuns(metrics, failureReasonOf(result.failure.code), 1, 'delta');
      else {
        metrics.addMetric(metricNames.changesRefreshed, MetricUnit.Count, personIds);
        countRunOutcome(metrics, result.finalStatus, 1, 'delta');
      }
    }
    const deferred = new Set(outcome.deferred);
    await Promise.all(Records.filter((r) => deferred.has(r.messageId)).map(retrySoon));
    return { batchItemFailures: outcome.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  } catch (error) {
    logger.error('refresh crashed', { error: describeError(error) });
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
};

/**
 * A change given back because the tenant's budget was busy comes back within seconds, not after the changes queue's
 * visibility timeout. Best effort, as the worker's retrySoon: if this fails, SQS still redelivers it after the timeout.
 * Each such delivery counts towards the queue's redrive limit (5): a budget busy for five deliveries in a row (20 s of
 * waiting and 30 s away each, about 4 minutes) sets the change aside in the DLQ; the daily reconciliation reads the
 * employee anyway.
 */
async function retrySoon(record: { messageId: string; receiptHandle: string }): Promise<void> {
  try {
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: config.changesQueueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: DEFERRED_VISIBILITY_SECONDS,
      }),
    );
  } catch (error) {
    logger.debug('could not shorten the retry of a deferred change', { messageId: record.messageId, error: describeError(error) });
  }
}
