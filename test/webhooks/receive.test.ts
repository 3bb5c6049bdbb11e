import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hookPrefix, runKeys } from '../../lib/storage/tables.js';
import { type ReceiveDeps, receiveWebhook, type WebhookRequest } from '../../lib/webhooks/receive.js';
import { newWebhookToken } from '../../lib/webhooks/token.js';
import {
  COMPANY,
  createChangesQueue,
  delivery,
  depth,
  drainChanges,
  hookItems,
  receiverDeps,
  seedTenant,
  startWebhookStack,
  type WebhookStack,
} from './support.js';

describe('the webhook receiver on DynamoDB Local and local SQS', () => {
  let env: WebhookStack;

  beforeAll(async () => {
    env = await startWebhookStack();
  }, 60_000);

  afterAll(async () => {
    env?.sqs.destroy();
    await env?.stack.stop();
  });

  let shapes = 0;

  const post = (deps: ReceiveDeps, tenantId: string | undefined, authorization: string | undefined, body = delivery()) =>
    receiveWebhook(deps, { tenantId, authorization, body } satisfies WebhookRequest);

  /** What a caller sees: status and body (the outcome and log are the adapter's). */
  const seen = (answer: { status: number; body: unknown }) => ({ status: answer.status, body: answer.body });

  describe('refuses every unauthenticated delivery with the same 401 and stores nothing', () => {
    it('unknown tenant, disconnected, no webhook, webhook unavailable, missing header, wrong token, another tenant’s token, invalid tenant id', async () => {
      // Prepare
      const queueUrl = await createChangesQueue(env.sqs);
      const deps = receiverDeps(env, queueUrl);
      const token = await seedTenant(env, 'hook-a', { webhooks: { companyId: null } });
      const otherToken = await seedTenant(env, 'hook-b');
      const disconnectedToken = await seedTenant(env, 'hook-gone', { status: 'disconnected' });
      const unavailableToken = await seedTenant(env, 'hook-off', { webhooks: { status: 'unavailable', reason: 'scope missing' } });
      const noHashToken = await seedTenant(env, 'hook-nohash', { webhooks: { tokenHash: null } });
      await seedTenant(env, 'hook-old', { webhooks: null });
      const cases: [string, string | undefined, string | undefined][] = [
        ['unknown tenant', 'hook-nobody', token],
        ['disconnected tenant', 'hook-gone', disconnectedToken],
        ['connection without webhooks', 'hook-old', token],
        ['webhook unavailable', 'hook-off', unavailableToken],
        ['webhook without a token hash', 'hook-nohash', noHashToken],
        ['missing Authorization', 'hook-a', undefined],
        ['empty Authorization', 'hook-a', ''],
        ['wrong token', 'hook-a', newWebhookToken()],
        ['token with a Bearer prefix', 'hook-a', `Bearer ${token}`],
        ["another tenant's token", 'hook-a', otherToken],
        ['tenant id that is no tenant id', '../hook-a', token],
        ['no tenant id', undefined, token],
      ];

      // Act
      const answers = [];
      for (const [what, tenantId, authorization] of cases) answers.push([what, seen(await post(deps, tenantId, authorization))] as const);

      // Assess: one answer for all, naming no check; nothing recorded, nothing queued, the company not recorded
      for (const [what, answer] of answers)
        expect(answer, what).toEqual({ status: 401, body: { code: 'unauthorized', message: 'Missing or invalid webhook token.' } });
      for (const tenantId of ['hook-a', 'hook-b', 'hook-gone', 'hook-off', 'hook-nohash', 'hook-old', 'hook-nobody'])
        expect(await hookItems(env, tenantId), tenantId).toEqual([]);
      expect(await depth(env, queueUrl)).toBe(0);
      expect((await env.connections.get('hook-a'))?.webhooks?.companyId).toBeNull();
      // The right token on the same tenant is taken: the refusals above were the token's, not the setup's.
      expect(seen(await post(deps, 'hook-a', token))).toEqual({ status: 202, body: { status: 'accepted' } });
    });
  });

  it('queues one change per delivery, with the person, the event and both times', async () => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-one');
    const receivedAt = new Date('2026-11-30T10:15:01.000Z');

    // Act
    const answer = await post({ ...receiverDeps(env, queueUrl), now: () => receivedAt }, 'hook-one', token);

    // Assess
    expect(seen(answer)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(await drainChanges(env, queueUrl)).toEqual([
      { v: 1, tenantId: 'hook-one', event: 'person.updated', personId: 1234, occurredAt: '2026-11-30T10:15:00.123Z', receivedAt: receivedAt.toISOString() },
    ]);
    const [item] = await hookItems(env, 'hook-one');
    // Kept for Personio's 3 days of retries and a day more, then expired by the table's TTL.
    expect(item?.['expiresAt']).toBe(Math.floor(receivedAt.getTime() / 1000) + 7 * 24 * 3600);
  });

  it('takes a replayed delivery once: the same body twice is one message, the second answered as a duplicate', async () => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const deps = receiverDeps(env, queueUrl);
    const token = await seedTenant(env, 'hook-replay');
    const body = delivery({ event_name: 'employment.updated', payload: { id: '99', person: { id: 77 } } });

    // Act
    const first = await post(deps, 'hook-replay', token, body);
    const second = await post(deps, 'hook-replay', token, body);

    // Assess
    expect(seen(first)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(seen(second)).toEqual({ status: 200, body: { status: 'duplicate' } });
    expect((await drainChanges(env, queueUrl)).map((c) => [c.event, c.personId])).toEqual([['employment.updated', 77]]);
    expect(await hookItems(env, 'hook-replay')).toHaveLength(1);
  });

  it('takes two changes of one person that differ only in occurred_at as two', async () => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const deps = receiverDeps(env, queueUrl);
    const token = await seedTenant(env, 'hook-twice');

    // Act
    const answers = [
      await post(deps, 'hook-twice', token, delivery({ occurred_at: '2026-11-30T10:15:00Z' })),
      await post(deps, 'hook-twice', token, delivery({ occurred_at: '2026-11-30T10:16:00Z' })),
    ];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    expect((await drainChanges(env, queueUrl)).map((c) => c.occurredAt).sort()).toEqual(['2026-11-30T10:15:00Z', '2026-11-30T10:16:00Z']);
  });

  it('refuses a body over 64 KiB with 413 before anything else, and takes one of exactly 64 KiB', async () => {
    // Prepare: padded in meta, which the receiver ignores
    const queueUrl = await createChangesQueue(env.sqs);
    const deps = receiverDeps(env, queueUrl);
    const token = await seedTenant(env, 'hook-big');
    const padded = (bytes: number) => {
      const base = delivery({ meta: { pad: '' } });
      return delivery({ meta: { pad: 'x'.repeat(bytes - Buffer.byteLength(base)) } });
    };
    const over = padded(65_537);
    const limit = padded(65_536);

    // Act
    const tooLarge = await post(deps, 'hook-big', token, over);
    const unauthenticated = await post(deps, 'hook-big', undefined, over);
    const atLimit = await post(deps, 'hook-big', token, limit);

    // Assess
    expect([Buffer.byteLength(over), Buffer.byteLength(limit)]).toEqual([65_537, 65_536]);
    expect(seen(tooLarge)).toEqual({ status: 413, body: { code: 'payload_too_large', message: expect.any(String) } });
    expect(unauthenticated.status).toBe(413);
    expect(seen(atLimit)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(await drainChanges(env, queueUrl)).toHaveLength(1);
    expect(await hookItems(env, 'hook-big')).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{"company_id": '],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['no payload', JSON.stringify({ company_id: COMPANY, event_name: 'person.updated', occurred_at: '2026-11-30T10:15:00Z' })],
    ['a payload that is a string', delivery({ payload: '1234' })],
    ['occurred_at not a date-time', delivery({ occurred_at: 'yesterday' })],
    ['occurred_at without a zone', delivery({ occurred_at: '2026-11-30T10:15:00' })],
    ['no event name', delivery({ event_name: '' })],
    ['company_id an object', delivery({ company_id: { id: COMPANY } })],
    ['an empty body', ''],
  ])('refuses a malformed body (%s) with 400 and stores nothing', async (_what, body) => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-bad', { webhooks: { companyId: null } });

    // Act
    const answer = await post(receiverDeps(env, queueUrl), 'hook-bad', token, body);

    // Assess: the answer quotes nothing of the body
    expect(seen(answer)).toEqual({ status: 400, body: { code: 'malformed_body', message: expect.any(String) } });
    expect(JSON.stringify(answer.body)).not.toContain('yesterday');
    expect(await hookItems(env, 'hook-bad')).toEqual([]);
    expect(await depth(env, queueUrl)).toBe(0);
    expect((await env.connections.get('hook-bad'))?.webhooks?.companyId).toBeNull();
  });

  it("refuses another company's delivery with 403 and stores nothing; a numeric company_id is read as its digits", async () => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const deps = receiverDeps(env, queueUrl);
    const token = await seedTenant(env, 'hook-co');

    // Act
    const other = await post(deps, 'hook-co', token, delivery({ company_id: '815' }));
    const numeric = await post(deps, 'hook-co', token, delivery({ company_id: Number(COMPANY) }));

    // Assess
    expect(seen(other)).toEqual({ status: 403, body: { code: 'company_mismatch', message: expect.any(String) } });
    expect(other.log).toMatchObject({ tenantId: 'hook-co', expectedCompany: COMPANY, deliveredCompany: '815' });
    expect(seen(numeric)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(await drainChanges(env, queueUrl)).toHaveLength(1);
    expect(await hookItems(env, 'hook-co')).toHaveLength(1);
  });

  it('records the company from the first authenticated delivery, and refuses any other company afterwards', async () => {
    // Prepare: connect did not know the company
    const queueUrl = await createChangesQueue(env.sqs);
    const deps = receiverDeps(env, queueUrl);
    const token = await seedTenant(env, 'hook-tofu', { webhooks: { companyId: null } });
    const before = await env.connections.get('hook-tofu');

    // Act
    const first = await post(deps, 'hook-tofu', token, delivery({ company_id: 'c-1' }));
    const second = await post(deps, 'hook-tofu', token, delivery({ company_id: 'c-2', occurred_at: '2026-11-30T11:00:00Z' }));

    // Assess: recorded once; nothing else of the connection changed
    expect([first.status, second.status]).toEqual([202, 403]);
    const after = await env.connections.get('hook-tofu');
    expect(after?.webhooks).toEqual({ ...before?.webhooks, companyId: 'c-1' });
    expect({ ...after, webhooks: undefined }).toEqual({ ...before, webhooks: undefined });
    expect(await drainChanges(env, queueUrl)).toHaveLength(1);
  });

  it('records no company for a webhook whose token changed since it was read (a reconnect in between)', async () => {
    // Prepare: the connection as read says token A; the table already holds token B (a reconnect)
    const queueUrl = await createChangesQueue(env.sqs);
    const oldToken = await seedTenant(env, 'hook-race', { webhooks: { companyId: null } });
    const stale = await env.connections.get('hook-race');
    await seedTenant(env, 'hook-race', { webhooks: { companyId: null } });
    let reads = 0;
    const deps = { ...receiverDeps(env, queueUrl), connections: { get: async (id: string) => (++reads === 1 ? stale : env.connections.get(id)) } };

    // Act
    const answer = await post(deps, 'hook-race', oldToken);

    // Assess
    expect(answer.status).toBe(401);
    expect((await env.connections.get('hook-race'))?.webhooks?.companyId).toBeNull();
    expect(await hookItems(env, 'hook-race')).toEqual([]);
    expect(await depth(env, queueUrl)).toBe(0);
  });

  it.each([
    ['an event we do not handle', delivery({ event_name: 'absence_period.created', payload: { id: '5' } })],
    ['a person event without an id', delivery({ payload: {} })],
    ['an employment event without its person', delivery({ event_name: 'employment.created', payload: { id: '5' } })],
    // Its own id is the employment's, whatever its type: never taken for the person
    ['an employment event with only a numeric id', delivery({ event_name: 'employment.terminated', payload: { id: 5 } })],
    ['an employment event whose person has no id', delivery({ event_name: 'employment.updated', payload: { id: '5', person: {} } })],
    ['a person id that is not a positive integer', delivery({ payload: { id: '-3' } })],
    ['a person id beyond the safe integers', delivery({ payload: { id: '9007199254740993' } })],
  ])('acknowledges %s with 202 ignored and queues nothing', async (_what, body) => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-ignore');

    // Act
    const answer = await post(receiverDeps(env, queueUrl), 'hook-ignore', token, body);

    // Assess
    expect(seen(answer)).toEqual({ status: 202, body: { status: 'ignored' } });
    expect(answer.outcome.kind).toBe('ignored');
    expect(await hookItems(env, 'hook-ignore')).toEqual([]);
    expect(await depth(env, queueUrl)).toBe(0);
  });

  it.each([
    ['person.updated', { person: { id: '1234' } }],
    ['person.created', { person: { id: 1234 } }],
    ['person.deleted', { person_id: '1234' }],
    ['person.updated', { id: 1234 }],
    ['person.updated', { id: '99', person: { id: '1234' } }],
    ['employment.updated', { id: 'e-99', person: { id: '1234' } }],
    ['employment.started', { employment: { id: '99' }, person: { id: 1234 } }],
    ['employment.deleted', { id: 99, person_id: 1234 }],
  ])('queues %s %j for person 1234', async (event, payload) => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-shapes');

    // Act: a distinct occurred_at per case, so no case is another's duplicate
    const answer = await post(
      receiverDeps(env, queueUrl),
      'hook-shapes',
      token,
      delivery({ event_name: event, payload, occurred_at: `2026-11-30T10:15:00.${String(++shapes).padStart(3, '0')}Z` }),
    );

    // Assess
    expect(seen(answer)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect((await drainChanges(env, queueUrl)).map((c) => [c.event, c.personId])).toEqual([[event, 1234]]);
  });

  it('reads the person of an employment event from person_id too, as a number', async () => {
    // Prepare
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-pid');

    // Act
    const answer = await post(
      receiverDeps(env, queueUrl),
      'hook-pid',
      token,
      delivery({ event_name: 'employment.terminated', payload: { id: 8, person_id: 42 } }),
    );

    // Assess
    expect(answer.status).toBe(202);
    expect((await drainChanges(env, queueUrl)).map((c) => [c.event, c.personId])).toEqual([['employment.terminated', 42]]);
  });

  it('answers 503 when SQS is down and stores nothing, so that Personio’s retry is taken', async () => {
    // Prepare: SendMessage fails as the SDK reports it once its own retries gave up (injected at the SDK's edge: local
    // SQS does not go down on request)
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-down');
    let down = true;
    const flaky: Pick<SQSClient, 'send'> = {
      send: ((command: unknown) => {
        if (down && command instanceof SendMessageCommand)
          return Promise.reject(Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }));
        return (env.sqs.send as (c: unknown) => Promise<unknown>)(command);
      }) as SQSClient['send'],
    };
    const deps = receiverDeps(env, queueUrl, flaky);

    // Act
    const failed = await post(deps, 'hook-down', token);
    const itemsAfterFailure = await hookItems(env, 'hook-down');
    down = false;
    const retried = await post(deps, 'hook-down', token);

    // Assess
    expect(seen(failed)).toEqual({ status: 503, body: { code: 'unavailable', message: expect.any(String) } });
    expect(itemsAfterFailure).toEqual([]);
    expect(seen(retried)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(await drainChanges(env, queueUrl)).toHaveLength(1);
  });
  it('accepts a change queued but not recorded (DynamoDB failing after the send): 202, the message sent, a retry queued again', async () => {
    // Prepare: PutItem of dedupe items fails as the SDK reports it once its own retries gave up (injected at the SDK's
    // edge: DynamoDB Local does not fail on request); every other call reaches DynamoDB Local
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-unrecorded');
    let failing = true;
    const flaky: Pick<DynamoDBDocumentClient, 'send'> = {
      send: ((command: unknown) => {
        const sk = command instanceof PutCommand ? command.input.Item?.[runKeys.sort] : undefined;
        if (failing && typeof sk === 'string' && sk.startsWith(hookPrefix))
          return Promise.reject(Object.assign(new Error('Internal Server Error'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }));
        return (env.db.send as (c: unknown) => Promise<unknown>)(command);
      }) as DynamoDBDocumentClient['send'],
    };
    const deps = receiverDeps(env, queueUrl, env.sqs, flaky);

    // Act
    const unrecorded = await post(deps, 'hook-unrecorded', token);
    const itemsAfterFailure = await hookItems(env, 'hook-unrecorded');
    failing = false;
    const retried = await post(deps, 'hook-unrecorded', token);
    const replayed = await post(deps, 'hook-unrecorded', token);

    // Assess: the change is queued and said so; with nothing recorded, Personio's retry is queued once more (a harmless
    // re-read by the refresh), recorded this time, and a further replay is a duplicate
    expect(seen(unrecorded)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(unrecorded.log).toMatchObject({ recordFailed: 'InternalServerError' });
    expect(itemsAfterFailure).toEqual([]);
    expect(seen(retried)).toEqual({ status: 202, body: { status: 'accepted' } });
    expect(seen(replayed)).toEqual({ status: 200, body: { status: 'duplicate' } });
    expect((await drainChanges(env, queueUrl)).map((c) => c.personId)).toEqual([1234, 1234]);
    expect(await hookItems(env, 'hook-unrecorded')).toHaveLength(1);
  });

  it('queues nothing and records nothing when the dedupe read fails (the adapter answers 503)', async () => {
    // Prepare: GetItem fails (injected at the SDK's edge, as above)
    const queueUrl = await createChangesQueue(env.sqs);
    const token = await seedTenant(env, 'hook-noread');
    const flaky: Pick<DynamoDBDocumentClient, 'send'> = {
      send: ((command: unknown) => {
        if (command instanceof GetCommand)
          return Promise.reject(
            Object.assign(new Error('Throughput exceeded'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }),
          );
        return (env.db.send as (c: unknown) => Promise<unknown>)(command);
      }) as DynamoDBDocumentClient['send'],
    };

    // Act
    const answer = post(receiverDeps(env, queueUrl, env.sqs, flaky), 'hook-noread', token);

    // Assess
    await expect(answer).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    expect(await hookItems(env, 'hook-noread')).toEqual([]);
    expect(await depth(env, queueUrl)).toBe(0);
  });
});
