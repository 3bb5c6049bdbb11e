import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsEventSource } from '../local/runner/event-source.js';
import { printWithPeakRss } from './child.js';
import { countDynamoRequests, dynamoRequests } from './dynamo-requests.js';

/**
 * Child-process entry: plays the SQS event source for the real worker handler until the queue has
 * stayed empty for a while, then reports the process's peak RSS, so the figure is the worker's own,
 * and when it was ready to poll (epoch ms, after loading the handler), so the parent can time the
 * import without the processes' start-up and idle tail, and every DynamoDB request the handler made.
 * The environment (endpoints, table names) comes from the parent.
 */
const queueUrl = process.env['IMPORT_QUEUE_URL'];
if (!queueUrl) throw new Error('IMPORT_QUEUE_URL is not set');
countDynamoRequests();
const { handler } = await import('../functions/worker.js');
const readyAt = Date.now();
const source = new SqsEventSource({ sqs: new SQSClient({}), queueUrl, handler, concurrency: Number(process.env['WORKER_CONCURRENCY'] ?? 4) });
source.start();
let emptySince: number | undefined;
for (;;) {
  await new Promise((r) => setTimeout(r, 500));
  if (source.failure) throw source.failure;
  const depth = await source.depth();
  if (depth > 0) emptySince = undefined;
  else emptySince ??= Date.now();
  if (emptySince !== undefined && Date.now() - emptySince > 2_000) break;
}
await source.stop();
printWithPeakRss({ ...source.stats, readyAt, dynamoRequests: dynamoRequests() });
