import { describe, expect, it } from 'vitest';
import { toChangeRecord } from '../../lib/events/change.js';
import { runChangeEvent } from '../../lib/events/run-changes.js';
import { runItem, streamRecord } from './support.js';

const context = { stage: 'test', now: () => new Date('2026-12-01T00:00:00.000Z') };
const eventOf = (...args: Parameters<typeof streamRecord>) => runChangeEvent(toChangeRecord(streamRecord(...args)), context);

describe('run change events from the runs table stream', () => {
  it.each([
    ['completed', 'Run Completed', 'finalizing'],
    ['held', 'Run Held', 'finalizing'],
    ['failed', 'Run Failed', 'processing'],
    ['completed', 'Run Completed', 'approving'],
  ] as const)('publishes %s as "%s" when a run takes the status (from %s)', (status, detailType, from) => {
    // Act
    const event = eventOf('MODIFY', { old: runItem({ status: from }), new: runItem({ status, finishedAt: '2026-11-01T00:05:00.000Z' }) }, '10', {
      table: 'runs',
    });

    // Assess
    expect(event?.detailType).toBe(detailType);
    expect(event?.detail).toEqual({
      version: 1,
      idempotencyKey: expect.stringMatching(/^[0-9a-f]{32}$/),
      tenantId: 't1',
      runId: '20261101T000000.000Z-0a0b0c0d',
      mode: 'full',
      trigger: 'schedule',
      status,
      counts: { created: 10, updated: 5, unchanged: 230, deactivated: 0, failed: 5 },
      occurredAt: '2027-01-15T08:00:00.000Z',
      stage: 'test',
    });
  });

  it('carries a delta run’s mode and trigger as the record has them', () => {
    // Act
    const event = eventOf('MODIFY', { old: runItem(), new: runItem({ status: 'completed', mode: 'delta', trigger: 'webhook' }) }, '11');

    // Assess
    expect(event?.detail).toMatchObject({ mode: 'delta', trigger: 'webhook' });
  });

  it('publishes nothing when the status stays (a retention stamp, a lease) or is not an outcome, nor for a new fetching run', () => {
    // Assess
    expect(eventOf('MODIFY', { old: runItem({ status: 'completed' }), new: runItem({ status: 'completed', expiresAt: 1 }) }, '12')).toBeUndefined();
    expect(eventOf('MODIFY', { old: runItem({ status: 'fetching' }), new: runItem({ status: 'processing' }) }, '13')).toBeUndefined();
    expect(eventOf('MODIFY', { old: runItem({ status: 'held' }), new: runItem({ status: 'approving' }) }, '14')).toBeUndefined();
    expect(eventOf('INSERT', { new: runItem({ status: 'fetching' }) }, '15')).toBeUndefined();
    expect(eventOf('REMOVE', { old: runItem({ status: 'completed' }) }, '16')).toBeUndefined();
  });

  it('ignores every other item of the runs table: markers, progress, pending deactivations, firings', () => {
    // Prepare
    const others = ['msg#r1#000001', 'prog#r1', 'pend#r1#0001', 'fire#2026-11-01T00:00:00Z'];

    // Assess: even with a `status` attribute that looks like an outcome
    for (const sk of others) expect(eventOf('INSERT', { new: { tenantId: 't1', sk, status: 'completed' } }, '17')).toBeUndefined();
  });
});
