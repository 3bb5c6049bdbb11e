import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { loadConfig } from '../lib/config.js';
import { runFetch, type FetchOutcome } from '../lib/fetch/run-fetch.js';
import { tenantIdSchema } from '../lib/tenants/tenant-id.js';
import { importMetrics } from '../lib/observability/metrics.js';
import { runIdSchema } from '../lib/runs/run.js';
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
  'stage',
  'pauseAfterCredentialFailures',
]);
const db = createStoreClient();
const sqs = createSqsClient();
const logger = createLogger('personio-fetch');
const metrics = createMetrics(config.stage);
const deps = { ...personioImportDeps(config, db, sqs), pauseAfterCredentialFailures: config.pauseAfterCredentialFailures };

// `runId` is set by connect's "import now", which answers the caller with it before the fetch starts.
// `scheduledAt` is the schedule's firing time (Scheduler fills in <aws.scheduler.scheduled-time>): one firing, one run.
const input = z
  .object({
    tenantId: tenantIdSchema,
    mode: z.literal('full').default('full'),
    runId: runIdSchema.optional(),
    scheduledAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
// The tenant's EventBridge Scheduler schedule sends its input as the event; a console invoke sends
// the same shape by hand; a scheduled rule would wrap it in `detail`.
const eventSchema = z.union([input, z.object({ 'detail-type': z.string(), detail: input }).transform((e) => e.detail)]);

export class FetchEventError extends Error {
  override readonly name = 'FetchEventError';
  readonly code = 'invalid_event';
}

export const handler = async (event: unknown, context: Context): Promise<FetchOutcome> => {
  logger.addContext(context);
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FetchEventError(
      `Expected {"tenantId": "<tenant>", "mode"?: "full", "runId"?: "<run id>", "scheduledAt"?: "<ISO time>"}; ${issue?.path.join('.') || 'event'}: ${issue?.message}`,
    );
  }
  const { tenantId, mode, runId, scheduledAt } = parsed.data;
  const trigger = runId ? 'api' : scheduledAt ? 'schedule' : typeof event === 'object' && event !== null && 'detail-type' in event ? 'schedule-rule' : 'invoke';
  try {
    const outcome = await runFetch(
      deps,
      { tenantId, mode, trigger, ...(runId ? { runId } : {}), ...(scheduledAt ? { scheduledAt } : {}) },
      Date.now() + context.getRemainingTimeInMillis(),
    );
    logger.info('fetch finished', { tenantId, ...outcome });
    if (outcome.status === 'fetched' || outcome.status === 'failed') {
      // Both, zeros included, so the 429 rate (429s / requests) has a denominator in every period with fetches.
      metrics.addMetric(metricNames.personioRequests, MetricUnit.Count, outcome.personioRequests);
      metrics.addMetric(metricNames.personio429, MetricUnit.Count, outcome.personio429);
      if (outcome.status === 'failed') countFailedRuns(metrics, failureReasonOf(outcome.failure.code));
      else countRunOutcome(metrics, outcome.finalStatus);
    }
    if (outcome.status === 'paused')
      metrics.singleMetric().addDimension(importMetrics.reasonDimension, outcome.reason).addMetric(metricNames.fetchesPaused, MetricUnit.Count, 1);
    return outcome;
  } catch (error) {
    logger.error('fetch crashed', { tenantId, error: describeError(error) });
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
};
