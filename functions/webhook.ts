import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { CompanyRecorder } from '../lib/webhooks/company.js';
import { DedupeStore } from '../lib/webhooks/dedupe.js';
import { receiveWebhook, type ReceiveDeps, type WebhookAnswer } from '../lib/webhooks/receive.js';
import { ChangesQueueSender } from '../lib/webhooks/sender.js';
import { importMetrics } from '../lib/observability/metrics.js';
import { createStoreClient } from './shared/clients.js';
import { createLogger, describeError } from './shared/logger.js';
import { createMetrics, MetricUnit, metricNames } from './shared/metrics.js';

const config = loadConfig(['connectionsTable', 'runsTable', 'changesQueueUrl', 'stage']);
const db = createStoreClient();
// Personio waits 3 s for the answer: a slow SQS is given one more try within that, then the delivery is answered 503
// and Personio's retry brings it back (nothing is stored before the message is queued).
const sqs = new SQSClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 500, requestTimeout: 1000 } });
const logger = createLogger('personio-webhook');
const metrics = createMetrics(config.stage);
const connections = new ConnectionStore(db, config.connectionsTable);
const deps: ReceiveDeps = {
  connections,
  dedupe: new DedupeStore(db, config.runsTable),
  changes: new ChangesQueueSender(sqs, config.changesQueueUrl),
  companies: new CompanyRecorder(db, config.connectionsTable),
  now: () => new Date(),
};

const json = (status: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode: status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

function errorCodeOf(error: unknown): { name: string; code?: string } {
  const { name, code } = describeError(error);
  return { name, ...(code ? { code } : {}) };
}

const unavailable = json(503, { code: 'unavailable', message: 'The change could not be queued; retry later.' });

function count(answer: WebhookAnswer): void {
  const { outcome } = answer;
  if (outcome.kind === 'accepted') metrics.addMetric(metricNames.webhooksAccepted, MetricUnit.Count, 1);
  if (outcome.kind === 'duplicate') metrics.addMetric(metricNames.webhooksDuplicate, MetricUnit.Count, 1);
  if (outcome.kind === 'ignored') metrics.addMetric(metricNames.webhooksIgnored, MetricUnit.Count, 1);
  // One metric per invocation: the reason can be a dimension of the stored set (publishing clears it).
  if (outcome.kind === 'refused') {
    metrics.addDimension(importMetrics.reasonDimension, outcome.reason);
    metrics.addMetric(metricNames.webhooksRefused, MetricUnit.Count, 1);
  }
}

/**
 * API Gateway HTTP API (payload 2.0), POST /webhooks/personio/{tenantId} → receiveWebhook. Logs the outcome with ids
 * only: never the Authorization header or the body.
 */
export const handler = async (event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  if (context) logger.addContext(context);
  const started = Date.now();
  try {
    const raw = event.body ?? '';
    const body = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    const declared = Number(event.headers?.['content-length']);
    const answer = await receiveWebhook(deps, {
      tenantId: event.pathParameters?.['tenantId'],
      authorization: event.headers?.['authorization'],
      body,
      contentLength: Number.isFinite(declared) ? declared : undefined,
    });
    count(answer);
    const line = { status: answer.status, outcome: answer.outcome.kind, ...answer.log, durationMs: Date.now() - started };
    // SQS's name and code only: its message is text from the wire.
    if (answer.outcome.kind === 'unavailable') logger.error('webhook not queued', { ...line, error: errorCodeOf(answer.outcome.cause) });
    // Queued, but the dedupe record failed: a retry of this delivery is queued once more (harmless, worth knowing).
    else if ('recordFailed' in answer.log) logger.warn('webhook queued, dedupe not recorded', line);
    else logger.info('webhook', line);
    return json(answer.status, answer.body);
  } catch (error) {
    // A store we could not read or write: Personio retries a 5xx, and nothing was queued.
    logger.error('webhook failed', { error: describeError(error), durationMs: Date.now() - started });
    return unavailable;
  } finally {
    // A 503 counts nothing here (the function's log line and the API's 5xx say it); an empty publish would only warn.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
