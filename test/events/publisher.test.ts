import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { entrySize, MAX_REQUEST_BYTES, publishChanges, type PublisherDeps } from '../../lib/events/publisher.js';
import { runItem, storedUser, streamRecord } from './support.js';

const eventBridge = mockClient(EventBridgeClient);
afterEach(() => eventBridge.reset());

const created = (n: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => streamRecord('INSERT', { new: storedUser({ sk: `user#u${i}`, userId: `u${i}`, ...extra }) }, String(1000 + i)));
const sentEntries = (call: number): PutEventsRequestEntry[] =>
  (eventBridge.commandCalls(PutEventsCommand)[call]?.args[0].input.Entries ?? []) as PutEventsRequestEntry[];
const userIdOf = (entry: PutEventsRequestEntry) => (JSON.parse(entry.Detail ?? '{}') as { userId: string }).userId;
const ok = (entries: PutEventsRequestEntry[] | undefined): PutEventsResultEntry[] => (entries ?? []).map((_, i) => ({ EventId: `e-${i}` }));

function deps(overrides: Partial<PublisherDeps> = {}): PublisherDeps & { delays: number[] } {
  const delays: number[] = [];
  return {
    eventBridge: new EventBridgeClient({ region: 'eu-central-1' }),
    eventBusName: 'bus',
    stage: 'test',
    sleep: async (ms) => void delays.push(ms),
    random: () => 0.5,
    delays,
    ...overrides,
  };
}

describe('publishing change events with PutEvents', () => {
  it('sends at most 10 entries per request, in stream order, and skips records that stand for no event', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({ FailedEntryCount: 0, Entries: ok(input.Entries) }));
    const bookkeeping = streamRecord('MODIFY', { old: storedUser(), new: storedUser({ syncedAt: '2030-01-01T00:00:00.000Z' }) }, '999');

    // Act
    const outcome = await publishChanges(deps(), [...created(23), bookkeeping]);

    // Assess
    expect(outcome).toMatchObject({ published: 23, failed: 0, skipped: 1, failedSequenceNumbers: [] });
    expect([0, 1, 2].map((c) => sentEntries(c).length)).toEqual([10, 10, 3]);
    expect([0, 1, 2].flatMap((c) => sentEntries(c).map(userIdOf))).toEqual(Array.from({ length: 23 }, (_, i) => `u${i}`));
  });

  it('re-sends only the entries EventBridge refused, after a jittered pause, until they are accepted', async () => {
    // Prepare: the first answer refuses entries 2 and 5
    eventBridge
      .on(PutEventsCommand)
      .callsFakeOnce((input: { Entries?: PutEventsRequestEntry[] }) => ({
        FailedEntryCount: 2,
        Entries: ok(input.Entries).map((e, i) => (i === 2 || i === 5 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'x' } : e)),
      }))
      .callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({ FailedEntryCount: 0, Entries: ok(input.Entries) }));
    const d = deps();

    // Act
    const outcome = await publishChanges(d, created(8));

    // Assess
    expect(outcome).toMatchObject({ published: 8, failed: 0, failedSequenceNumbers: [], errors: { InternalFailure: 2 } });
    expect(sentEntries(1).map(userIdOf)).toEqual(['u2', 'u5']);
    expect(d.delays).toEqual([100]);
  });

  it('reports the records whose events are still refused after the last round, and counts the rest as published', async () => {
    // Prepare: u3 and u6 are always refused (throttled), everything else is accepted
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => {
      const entries = input.Entries ?? [];
      const refused = (e: PutEventsRequestEntry) => ['u3', 'u6'].includes(userIdOf(e));
      return {
        FailedEntryCount: entries.filter(refused).length,
        Entries: entries.map((e, i) => (refused(e) ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } : { EventId: `e${i}` })),
      };
    });
    const d = deps({ maxAttempts: 3 });

    // Act
    const outcome = await publishChanges(d, created(8));

    // Assess
    expect(outcome).toMatchObject({ published: 6, failed: 2, failedSequenceNumbers: ['1003', '1006'] });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(d.delays).toHaveLength(2);
    for (const [i, delay] of d.delays.entries()) expect(delay).toBeLessThanOrEqual(100 * 2 ** (i + 1));
  });

  it('re-sends every entry of a request that failed outright', async () => {
    // Prepare
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(Object.assign(new Error('down'), { name: 'InternalException' }))
      .callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({ FailedEntryCount: 0, Entries: ok(input.Entries) }));

    // Act
    const outcome = await publishChanges(deps(), created(4));

    // Assess
    expect(outcome).toMatchObject({ published: 4, failed: 0, errors: { InternalException: 4 } });
    expect(sentEntries(1)).toHaveLength(4);
  });

  it('does not re-send an entry refused for what it is, and stops re-sending when the time budget is spent', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({
      FailedEntryCount: 1,
      Entries: ok(input.Entries).map((e, i) =>
        i === 0 ? { ErrorCode: 'MalformedDetail', ErrorMessage: 'x' } : { ...e, ...(i === 1 ? { ErrorCode: 'InternalFailure' } : {}) },
      ),
    }));

    // Act
    const outcome = await publishChanges(deps({ budgetMs: 0, random: () => 1 }), created(3));

    // Assess: one request only; the malformed entry and the one left unsent are both reported
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    expect(outcome).toMatchObject({ published: 1, failed: 2, failedSequenceNumbers: ['1000', '1001'] });
  });

  it('keeps each request within 256 KB', async () => {
    // Prepare: users whose many custom fields make each detail ~40 KB of field names
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({ FailedEntryCount: 0, Entries: ok(input.Entries) }));
    const customFields = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`a-rather-long-custom-field-name-${i}`, 'x']));

    // Act
    const outcome = await publishChanges(deps(), created(10, { customFields }));

    // Assess
    expect(outcome.published).toBe(10);
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls.length).toBeGreaterThan(1);
    for (const call of calls) expect((call.args[0].input.Entries ?? []).reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
  });

  it('publishes run outcomes from the same batch as user changes, and reports an unreadable record rather than dropping it', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({ FailedEntryCount: 0, Entries: ok(input.Entries) }));
    const run = streamRecord('MODIFY', { old: runItem(), new: runItem({ status: 'completed' }) }, '2000', { table: 'runs' });
    const unreadable = { ...streamRecord('INSERT', { new: storedUser() }, '2001'), dynamodb: { SequenceNumber: '2001' } };

    // Act
    const outcome = await publishChanges(deps(), [run, unreadable, ...created(1)]);

    // Assess
    expect(outcome).toMatchObject({ published: 2, failed: 1, failedSequenceNumbers: ['2001'] });
    expect(sentEntries(0).map((e) => e.DetailType)).toEqual(['Run Completed', 'User Created']);
  });
});
