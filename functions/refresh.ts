import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { loadConfig } from '../lib/config.js';
import { CredentialsStore } from '../lib/credentials/store.js';
import { type ChangeSkipReason, importMetrics } from '../lib/observability/metrics.js';
import { QueueSender } from '../lib/queue/sender.js';
import { refreshBatch } from '../lib/refresh/batch.js';
import { RunStore } from '../lib/runs/store.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { UserStore } from '../lib/users/store.js';
import { createSecretsClient, createSqsClient, createStoreClient } from './shared/clients.js';
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
  'stage',
  'runRetentionDays',
  // Read by every function that may finish a run (the worker too), though a delta run counts no credential failure.
  'pauseAfterCredentialFailures',
]);
const db = createStoreClient();
const sqs = createSqsClient();
const logger = createLogger('personio-refresh');
const metrics = createMetrics(config.stage);
const deps = {
  connections: new ConnectionStore(db, config.connectionsTable),
  runs: new RunStore(db, config.runsTable, { retentionDays: config.runRetentionDays }),
  users: new UserStore(db, config.usersTable),
  credentials: new CredentialsStore(createSecretsClient(), config.secretPrefix),
  createSender: () => new QueueSender({ sqs, queueUrl: config.importQueueUrl }),
  personio: { baseUrl: config.personioBaseUrl, appId: config.personioAppId },
  now: () => new Date(),
  deactivationThreshold: config.deactivationThreshold,
};

// Bodies are parsed per record in lib/refresh/batch.ts (a malformed one fails alone); this is the event's own shape.
const eventSchema = z.object({ Records: z.array(z.object({ messageId: z.string(), body: z.string() })) });

/**
 * The changes queue's consumer: one delta run per tenant of the batch (lib/refresh/batch.ts). Records of a tenant whose
 * run failed come back as batch item failures, so SQS delivers them again; its DLQ takes what never succeeds.
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
      metrics.addMetric(metricNames.deltaRuns, MetricUnit.Count, 1);
      metrics.addMetric(metricNames.personioRequests, MetricUnit.Count, result.personioRequests);
      metrics.addMetric(metricNames.personio429, MetricUnit.Count, result.personio429);
      if (result.status === 'failed') countFailedRuns(metrics, failureReasonOf(result.failure.code));
      else {
        metrics.addMetric(metricNames.changesRefreshed, MetricUnit.Count, personIds);
        countRunOutcome(metrics, result.finalStatus);
      }
    }
    return { batchItemFailures: outcome.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  } catch (error) {
    logger.error('refresh crashed', { error: describeError(error) });
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
};
