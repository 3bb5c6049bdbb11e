import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { RunStore } from '../lib/runs/store.js';
import { UserStore } from '../lib/users/store.js';
import { PermanentMessageError } from '../lib/worker/errors.js';
import { parseImportMessage, processImportMessage } from '../lib/worker/process-message.js';
import { retryVisibilitySeconds } from '../lib/worker/retry.js';
import { createSqsClient, createStoreClient } from './shared/clients.js';
import { createLogger, describeError } from './shared/logger.js';
import { countRunOutcome, createMetrics, metricNames, MetricUnit } from './shared/metrics.js';

const config = loadConfig(['usersTable', 'runsTable', 'deactivationThreshold', 'importQueueUrl', 'stage', 'runRetentionDays', 'pauseAfterCredentialFailures']);
const db = createStoreClient();
const sqs = createSqsClient();
const logger = createLogger('personio-worker');
const metrics = createMetrics(config.stage);
const deps = {
  runs: new RunStore(db, config.runsTable, { retentionDays: config.runRetentionDays }),
  users: new UserStore(db, config.usersTable),
  now: () => new Date(),
  deactivationThreshold: config.deactivationThreshold,
};

/**
 * Processes each record on its own and reports failures per record (ReportBatchItemFailures): a
 * failing message is retried by SQS and, after the redrive limit, set aside in the DLQ; the others
 * in the batch are not held back by it.
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const message = parseImportMessage(record.body);
      const result = await processImportMessage(deps, message);
      logger.info('message processed', { messageId: record.messageId, tenantId: message.tenantId, seq: message.seq, ...result });
      if (!result.duplicate) {
        metrics.addMetric(metricNames.employeesImported, MetricUnit.Count, result.created + result.updated + result.unchanged);
        metrics.addMetric(metricNames.usersCreated, MetricUnit.Count, result.created);
        metrics.addMetric(metricNames.usersUpdated, MetricUnit.Count, result.updated);
      }
      countRunOutcome(metrics, result.finalStatus, 1, result.mode);
    } catch (error) {
      const permanent = error instanceof PermanentMessageError;
      // Name and code only: an SDK or marshalling error can quote a value of the employee being written.
      const { name, code } = describeError(error);
      logger[permanent ? 'error' : 'warn'](permanent ? 'message can never succeed; leaving it to the DLQ redrive' : 'message failed; retrying it shortly', {
        messageId: record.messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        error: permanent ? describeError(error) : { name, ...(code ? { code } : {}) },
      });
      if (!permanent) await retrySoon(record);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  // The invocation succeeds whatever its messages did, so Lambda's Errors never sees these: counted here, zeros
  // included, for the failure ratio.
  metrics.addMetric(metricNames.importMessages, MetricUnit.Count, event.Records.length);
  metrics.addMetric(metricNames.importMessagesFailed, MetricUnit.Count, batchItemFailures.length);
  metrics.publishStoredMetrics();
  return { batchItemFailures };
};

/**
 * A transient failure (throttling that outlasted the retries, a timeout) comes back within seconds, not after the
 * queue's visibility timeout (minutes: sized for the worker's timeout). Best effort: if this fails, SQS still retries
 * the message after the visibility timeout.
 */
async function retrySoon(record: SQSRecord): Promise<void> {
  try {
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: config.importQueueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: retryVisibilitySeconds(receiveCount),
      }),
    );
  } catch (error) {
    logger.debug('could not shorten the retry of a failed message', { messageId: record.messageId, error: describeError(error) });
  }
}
