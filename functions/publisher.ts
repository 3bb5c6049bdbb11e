import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import * as z from 'zod';
import { loadConfig } from '../lib/config.js';
import { publishChanges } from '../lib/events/publisher.js';
import { createLogger } from './shared/logger.js';
import { createMetrics, metricNames, MetricUnit } from './shared/metrics.js';

const config = loadConfig(['eventBusName', 'stage']);
const eventBridge = new EventBridgeClient({});
const logger = createLogger('personio-publisher');
const metrics = createMetrics(config.stage);

/** Re-sends stop this long before the function's timeout, so the answer (and its batch item failures) gets out. */
const TIMEOUT_MARGIN_MS = 10_000;
const MAX_BUDGET_MS = 20_000;

/** The parts of a stream record the publisher reads; the images are unmarshalled in lib/events/change.ts. */
const streamEvent = z.object({
  Records: z.array(
    z.looseObject({
      eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
      dynamodb: z.looseObject({ SequenceNumber: z.string().min(1), Keys: z.record(z.string(), z.unknown()) }),
    }),
  ),
});

/**
 * The users and runs tables' streams (one event source mapping each, ReportBatchItemFailures) → the product's event
 * bus. Records still failing after the publisher's re-sends are reported from the first one on: Lambda delivers them
 * again (bisecting the batch), and after its retries sends them to the on-failure queue.
 */
export const handler = async (event: DynamoDBStreamEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<DynamoDBBatchResponse> => {
  const records = streamEvent.parse(event).Records as unknown as DynamoDBRecord[];
  const budgetMs = Math.max(0, Math.min(MAX_BUDGET_MS, (context?.getRemainingTimeInMillis() ?? MAX_BUDGET_MS + TIMEOUT_MARGIN_MS) - TIMEOUT_MARGIN_MS));
  const outcome = await publishChanges({ eventBridge, eventBusName: config.eventBusName, stage: config.stage, budgetMs }, records);
  // Counts and error codes only: an event's detail is ids, but nothing here needs them.
  logger[outcome.failed > 0 ? 'error' : 'info']('change events published', {
    records: records.length,
    published: outcome.published,
    failed: outcome.failed,
    skipped: outcome.skipped,
    errors: outcome.errors,
  });
  metrics.addMetric(metricNames.changeEventsPublished, MetricUnit.Count, outcome.published);
  metrics.addMetric(metricNames.changeEventsFailed, MetricUnit.Count, outcome.failed);
  metrics.publishStoredMetrics();
  const first = outcome.failedSequenceNumbers[0];
  return { batchItemFailures: first === undefined ? [] : [{ itemIdentifier: first }] };
};
