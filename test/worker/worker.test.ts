import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '@aws-sdk/client-sqs';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { lambdaContext, scheduledEvent, sqsEvent } from '../helpers/events.js';
import { fetchAndHold } from '../helpers/queue.js';

const TENANT = 'worker-co';

describe('the worker', () => {
  let env: LocalEnvironment;
  let messages: Message[];
  let runId: string;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 250, seed: 3 } });
    await connectThroughApi(env, TENANT, env.personio);
    // The fetch fills the queue; nobody consumes it yet, so the test holds the messages.
    ({ runId, messages } = await fetchAndHold(env, scheduledEvent(TENANT)));
  }, 120_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('reports only the bad records of a mixed batch as failures', async () => {
    // Prepare: one good message between a malformed body and a message of a run that does not exist
    const good = messages[0]!;
    const malformed = { ...good, MessageId: 'malformed', Body: '{"v":1,' };
    const unknownRun = { ...good, MessageId: 'unknown-run', Body: good.Body!.replace(runId, 'no-such-run') };

    // Act
    const response = await env.handlers.worker(sqsEvent([malformed, good, unknownRun]), lambdaContext('personio-worker', 60_000));

    // Assess
    expect(response?.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['malformed', 'unknown-run']);
    const run = await env.runs.withLiveCounts((await env.runs.get(TENANT, runId))!);
    expect(run.messagesProcessed).toBe(1);
  });

  it('counts a redelivered message once and writes nothing for it', async () => {
    // Prepare
    const before = await env.runs.withLiveCounts((await env.runs.get(TENANT, runId))!);
    const usersBefore = await env.users.list(TENANT);

    // Act: the message of the previous test, delivered again, twice in one batch
    const response = await env.handlers.worker(sqsEvent([messages[0]!, { ...messages[0]!, MessageId: 'dup' }]), lambdaContext('personio-worker', 60_000));

    // Assess
    expect(response?.batchItemFailures).toEqual([]);
    const after = await env.runs.withLiveCounts((await env.runs.get(TENANT, runId))!);
    expect(after).toMatchObject({ messagesProcessed: before.messagesProcessed, created: before.created, dynamoWriteRequests: before.dynamoWriteRequests });
    expect(await env.users.list(TENANT)).toHaveLength(usersBefore.length);
  });

  it('never creates two users when the same messages are processed concurrently', async () => {
    // Prepare: every remaining message, each delivered to two workers at once
    const rest = messages.slice(1);

    // Act
    await Promise.all([
      env.handlers.worker(sqsEvent(rest), lambdaContext('personio-worker', 60_000)),
      env.handlers.worker(sqsEvent(rest.map((m) => ({ ...m, MessageId: `${m.MessageId}-again` }))), lambdaContext('personio-worker', 60_000)),
    ]);

    // Assess
    const users = await env.users.list(TENANT);
    const ids = users.map((u) => u.personioId);
    expect(new Set(ids).size).toBe(ids.length);
    const employeesWithEmail = env.sim!.employees().filter((e) => typeof e.email === 'string' && e.email.trim() !== '');
    expect(users).toHaveLength(employeesWithEmail.length);
    const run = await env.runs.get(TENANT, runId);
    expect(run).toMatchObject({ status: 'completed', messagesProcessed: messages.length, created: employeesWithEmail.length });
  });
});
