import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { LocalEnvironment } from '../../local/runner/environment.js';
import { lambdaContext } from '../../local/runner/events.js';

/** The SQS chores tests share: how full a queue is, taking messages off it, and a fetch whose messages the test holds. */

/** Messages in a queue (the import queue unless told), visible or in flight. */
export async function queueDepth(env: LocalEnvironment, url = env.queueUrls.importQueueUrl): Promise<number> {
  const result = await env.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(result.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(result.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}

export async function deleteMessages(env: LocalEnvironment, messages: readonly Message[], url = env.queueUrls.importQueueUrl): Promise<void> {
  if (messages.length === 0) return;
  await env.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
}

/**
 * Receives `count` messages from the import queue (nobody else may consume it meanwhile). `remove` deletes them;
 * otherwise they stay held, invisible for ten minutes, for the test to hand to the worker itself.
 */
export async function takeMessages(env: LocalEnvironment, count: number, options: { remove?: boolean } = {}): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < count) {
    const received = await env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.queueUrls.importQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        ...(options.remove ? {} : { VisibilityTimeout: 600 }),
      }),
    );
    const batch = received.Messages ?? [];
    messages.push(...batch);
    if (options.remove) await deleteMessages(env, batch);
  }
  return messages;
}

/** Takes every message off a queue until it answers empty (the DLQ after a poison case). */
export async function drain(env: LocalEnvironment, url: string): Promise<Message[]> {
  const taken: Message[] = [];
  for (;;) {
    const received = await env.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'] }));
    const messages = received.Messages ?? [];
    if (messages.length === 0) return taken;
    taken.push(...messages);
    await deleteMessages(env, messages, url);
  }
}

/** Runs the real fetch with nobody consuming the queue, and holds every message it sent. */
export async function fetchAndHold(env: LocalEnvironment, event: unknown, options: { remove?: boolean } = {}): Promise<{ runId: string; messages: Message[] }> {
  const outcome = await env.handlers.fetch(event, lambdaContext('personio-fetch', 60_000));
  if (outcome.status !== 'fetched') throw new Error(`fetch: ${outcome.status}`);
  return { runId: outcome.runId, messages: await takeMessages(env, outcome.messagesSent, options) };
}
