import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishChanges } from '../../lib/events/publisher.js';
import { type EventBridgeStandIn, startEventBridge } from '../../local/aws/eventbridge.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/identity.js';
import { storedUser, streamRecord } from './support.js';

const entry = (overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  Source: 'dado.personio-import',
  DetailType: 'User Created',
  Detail: JSON.stringify({ version: 1, userId: 'u1' }),
  EventBusName: 'bus',
  Time: new Date('2026-11-01T10:00:00Z'),
  ...overrides,
});

describe('the EventBridge stand-in, through @aws-sdk/client-eventbridge', () => {
  let eventBridge: EventBridgeStandIn;
  let client: EventBridgeClient;
  let dir: string;
  let eventsFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dado-eventbridge-'));
    eventsFile = join(dir, 'events.jsonl');
    eventBridge = await startEventBridge({ eventsFile });
    eventBridge.createBus('bus');
    client = new EventBridgeClient({ endpoint: eventBridge.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  });

  afterAll(async () => {
    client?.destroy();
    await eventBridge?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts entries with an event id each, keeps them as a rule would see them, and appends each to the events file', async () => {
    // Act
    const before = eventBridge.events().length;
    const answer = await client.send(new PutEventsCommand({ Entries: [entry(), entry({ DetailType: 'Run Completed', Detail: '{"runId":"r1"}' })] }));

    // Assess
    expect(answer.FailedEntryCount).toBe(0);
    expect(answer.Entries?.map((e) => e.EventId)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/), expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    const events = eventBridge.events().slice(before);
    expect(events[0]).toMatchObject({
      id: answer.Entries?.[0]?.EventId,
      'detail-type': 'User Created',
      source: 'dado.personio-import',
      time: '2026-11-01T10:00:00Z',
      detail: { version: 1, userId: 'u1' },
      'event-bus-name': 'bus',
    });
    const lines = (await readFile(eventsFile, 'utf8')).trim().split('\n').slice(before);
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(answer.Entries?.map((e) => e.EventId));
  });

  it('answers entry by entry: a missing source or detail type, a detail that is not a JSON object, an unknown bus, an aws. source', async () => {
    // Act
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({ Source: undefined }),
          entry({ DetailType: undefined }),
          entry({ Detail: '[1, 2]' }),
          entry({ Detail: '{not json' }),
          entry({ EventBusName: 'no-such-bus' }),
          entry({ Source: 'aws.events' }),
          entry({ EventBusName: 'arn:aws:events:eu-central-1:000000000000:event-bus/bus' }),
        ],
      }),
    );

    // Assess
    expect(answer.FailedEntryCount).toBe(6);
    expect(answer.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'InvalidArgument',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'ResourceNotFoundException',
      'NotAuthorizedForSourceException',
      'ok',
    ]);
    expect(answer.Entries?.[0]?.ErrorMessage).toBe('Parameter Source is not valid. Reason: Source is a required argument.');
  });

  it('refuses a request of more than 10 entries or over 256 KB as a whole (ValidationException)', async () => {
    // Act
    const tooMany = client.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) }));
    const tooLarge = client.send(new PutEventsCommand({ Entries: [entry({ Detail: JSON.stringify({ pad: 'x'.repeat(262_144) }) })] }));

    // Assess
    await expect(tooMany).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    await expect(tooLarge).rejects.toMatchObject({ name: 'ValidationException', message: 'Total size of the entries in the request is over the limit.' });
  });

  it('refuses the next n entries with InternalFailure on request, and answers 500 while unavailable', async () => {
    // Prepare
    eventBridge.failNext(3);

    // Act
    const first = await client.send(new PutEventsCommand({ Entries: [entry(), entry()] }));
    const second = await client.send(new PutEventsCommand({ Entries: [entry(), entry()] }));
    eventBridge.setUnavailable(true);
    const down = client.send(new PutEventsCommand({ Entries: [entry()] }));
    await expect(down).rejects.toMatchObject({ name: 'InternalException', $metadata: { httpStatusCode: 500 } });
    eventBridge.setUnavailable(false);

    // Assess
    expect(first.Entries?.map((e) => e.ErrorCode)).toEqual(['InternalFailure', 'InternalFailure']);
    expect(second.FailedEntryCount).toBe(1);
    expect(second.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual(['InternalFailure', 'ok']);
    expect(eventBridge.calls()['PutEvents']).toBeGreaterThanOrEqual(3);
  });

  it('lets the publisher re-send what it refused, so every change lands once more is all', async () => {
    // Prepare
    eventBridge.failNext(4);
    const records = Array.from({ length: 12 }, (_, i) => streamRecord('INSERT', { new: storedUser({ sk: `user#p${i}`, userId: `p${i}` }) }, String(5000 + i)));
    const before = eventBridge.events().length;

    // Act
    const outcome = await publishChanges({ eventBridge: client, eventBusName: 'bus', stage: 'local', sleep: async () => undefined }, records);

    // Assess
    expect(outcome).toMatchObject({ published: 12, failed: 0, errors: { InternalFailure: 4 } });
    const userIds = eventBridge
      .events()
      .slice(before)
      .map((e) => e.detail['userId']);
    expect([...userIds].sort()).toEqual(records.map((_, i) => `p${i}`).sort());
  });
});
