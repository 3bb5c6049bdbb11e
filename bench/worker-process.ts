import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsEventSource } from '../local/runner/event-source.js';

/**
 * Child-process entry: plays the SQS event source for the real worker handler until the queue has
 * stayed empty for a while, then reports the process's peak RSS, so the figure is the worker's own.
 * The environment (endpoints, table names) comes from the parent.
 */
const queueUrl = process.env['IMPORT_QUEUE_URL'];
if (!queueUrl) throw new Error('IMPORT_QUEUE_URL is not set');
const { handler } = await import('../functions/worker.js');
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
process.stdout.write(`${JSON.stringify({ ...source.stats, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
