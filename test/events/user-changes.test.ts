import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHANGE_EVENT_SOURCE, idempotencyKey, toChangeRecord } from '../../lib/events/change.js';
import { toEntry } from '../../lib/events/publisher.js';
import { userChangeEvent, userContractFields } from '../../lib/events/user-changes.js';
import { userFieldNames } from '../../lib/mapping/mapping.js';
import { storedUser, streamRecord } from './support.js';

const context = { stage: 'test', now: () => new Date('2026-12-01T00:00:00.000Z') };
const eventOf = (...args: Parameters<typeof streamRecord>) => userChangeEvent(toChangeRecord(streamRecord(...args)), context);

describe('user change events from the users table stream', () => {
  it('lists exactly the contract fields of DESIGN §4 (the mapped fields, active, managerUserId), custom fields apart', () => {
    expect([...userContractFields]).toEqual([...userFieldNames, 'active', 'managerUserId']);
    expect(userContractFields).toEqual(
      expect.arrayContaining(['email', 'firstName', 'preferredName', 'lastName', 'position', 'team', 'department', 'office', 'employmentType']),
    );
    expect(userContractFields).toEqual(
      expect.arrayContaining(['hireDate', 'terminationDate', 'birthday', 'status', 'active', 'managerPersonioId', 'managerUserId']),
    );
  });

  it('publishes User Created for a new user item, with its ids, the run that created it and the fields it has', () => {
    // Act
    const event = eventOf('INSERT', { new: storedUser() }, '100');

    // Assess
    expect(event?.detailType).toBe('User Created');
    expect(event?.detail).toEqual({
      version: 1,
      idempotencyKey: expect.stringMatching(/^[0-9a-f]{32}$/),
      tenantId: 't1',
      userId: 'u1',
      personioId: 42,
      runId: 'run-1',
      changedFields: ['email', 'firstName', 'lastName', 'department', 'employmentType', 'hireDate', 'status', 'active', 'customFields.shirt'],
      occurredAt: '2027-01-15T08:00:00.000Z',
      stage: 'test',
    });
    expect(event?.time.toISOString()).toBe('2027-01-15T08:00:00.000Z');
  });

  it('publishes User Updated with the names of the changed fields and the run that changed them', () => {
    // Act
    const event = eventOf(
      'MODIFY',
      {
        old: storedUser(),
        new: storedUser({ lastName: 'VAL-Byron', customFields: { shirt: 'VAL-M', desk: 'VAL-4' }, changedInRun: 'run-2', contentHash: 'hash-2' }),
      },
      '101',
    );

    // Assess
    expect(event?.detailType).toBe('User Updated');
    expect(event?.detail).toMatchObject({ runId: 'run-2', changedFields: ['lastName', 'customFields.desk', 'customFields.shirt'] });
  });

  it('publishes User Deactivated and User Reactivated on active true → false and false → true, listing the other changes too', () => {
    // Prepare
    const active = storedUser();
    const left = storedUser({
      active: false,
      status: 'inactive',
      deactivatedAt: '2026-11-02T00:00:00.000Z',
      deactivationReason: 'not_in_personio',
      deactivatedInRun: 'run-2',
      changedInRun: 'run-2',
    });

    // Act
    const deactivated = eventOf('MODIFY', { old: active, new: left }, '102');
    const reactivated = eventOf('MODIFY', { old: left, new: storedUser({ changedInRun: 'run-3', deactivatedAt: null }) }, '103');

    // Assess
    expect(deactivated?.detailType).toBe('User Deactivated');
    expect(deactivated?.detail).toMatchObject({ runId: 'run-2', changedFields: ['status', 'active'] });
    expect(reactivated?.detailType).toBe('User Reactivated');
    expect(reactivated?.detail).toMatchObject({ runId: 'run-3', changedFields: ['status', 'active'] });
  });

  it('publishes nothing for a write that changes only bookkeeping: stamps, hashes, run ids, the email key, the previous address', () => {
    // Act
    const event = eventOf(
      'MODIFY',
      {
        old: storedUser(),
        new: storedUser({
          contentHash: 'hash-9',
          syncedAt: '2026-11-09T00:00:00.000Z',
          changedInRun: 'run-9',
          updatedAt: '2026-11-09T00:00:01.000Z',
          emailKey: 'other',
          previousEmail: 'VAL-old@example.com',
          deactivationReason: 'x',
          personioId: 43,
        }),
      },
      '104',
    );

    // Assess
    expect(event).toBeUndefined();
  });

  it('ignores Personio link items and deletions', () => {
    // Assess
    expect(eventOf('INSERT', { new: { tenantId: 't1', sk: 'personio#42', userId: 'u1' } }, '105')).toBeUndefined();
    expect(eventOf('REMOVE', { old: storedUser() }, '106')).toBeUndefined();
  });

  it('names no run for the writes that do not record one: the manager link a run sets at its end, an address passed on', () => {
    // Act
    const linked = eventOf('MODIFY', { old: storedUser({ managerPersonioId: 7 }), new: storedUser({ managerPersonioId: 7, managerUserId: 'u7' }) }, '107');
    const released = eventOf(
      'MODIFY',
      { old: storedUser({ active: false }), new: storedUser({ active: false, email: null, previousEmail: 'VAL-ada@example.com' }) },
      '108',
    );

    // Assess
    expect(linked?.detail).toMatchObject({ runId: null, changedFields: ['managerUserId'] });
    expect(released?.detail).toMatchObject({ runId: null, changedFields: ['email'] });
  });

  it('gives one change the same idempotency key on every delivery, and different changes different keys', () => {
    // Prepare
    const record = streamRecord('MODIFY', { old: storedUser(), new: storedUser({ firstName: 'VAL-Ava' }) }, '200');

    // Act
    const first = userChangeEvent(toChangeRecord(record), context);
    const again = userChangeEvent(toChangeRecord(structuredClone(record)), { ...context, now: () => new Date() });
    const next = eventOf('MODIFY', { old: storedUser(), new: storedUser({ firstName: 'VAL-Ava' }) }, '201');
    const otherUser = eventOf('MODIFY', { old: storedUser({ sk: 'user#u2' }), new: storedUser({ sk: 'user#u2', firstName: 'VAL-Ava' }) }, '200');

    // Assess
    expect(again?.detail.idempotencyKey).toBe(first?.detail.idempotencyKey);
    expect(first?.detail.idempotencyKey).toBe(idempotencyKey({ keys: { tenantId: 't1', sk: 'user#u1' }, sequenceNumber: '200' }));
    expect(new Set([first?.detail.idempotencyKey, next?.detail.idempotencyKey, otherUser?.detail.idempotencyKey]).size).toBe(3);
  });

  it('builds the PutEvents entry: source, detail type, the bus, the time, and the detail as JSON', () => {
    // Act
    const event = eventOf('INSERT', { new: storedUser() }, '300');
    const entry = event && toEntry(event, 'bus-1');

    // Assess
    expect(entry).toEqual({
      Source: CHANGE_EVENT_SOURCE,
      DetailType: 'User Created',
      EventBusName: 'bus-1',
      Time: new Date('2027-01-15T08:00:00.000Z'),
      Detail: JSON.stringify(event?.detail),
    });
    expect(CHANGE_EVENT_SOURCE).toBe('dado.personio-import');
  });
});

/** The detail as text, without its idempotency key (hex digits, which may spell anything). */
const valuesIn = (detail: Record<string, unknown> | undefined) => JSON.stringify({ ...detail, idempotencyKey: undefined });

/** A value of a contract field, marked so a leak into the detail is found by text search. */
const text = fc.constantFrom('VAL-a', 'VAL-b', 'VAL-ü€', null);
const date = fc.constantFrom('1990-01-01', '1991-02-03', null);
const userArbitrary = fc.record({
  email: fc.constantFrom('VAL-a@example.com', 'VAL-b@example.com', null),
  firstName: text,
  preferredName: text,
  lastName: text,
  position: text,
  team: text,
  department: text,
  office: text,
  employmentType: fc.constantFrom('internal', 'external', null),
  hireDate: date,
  terminationDate: date,
  birthday: date,
  status: fc.constantFrom('onboarding', 'active', 'leave', 'inactive'),
  active: fc.boolean(),
  managerPersonioId: fc.constantFrom(900_001, 900_002, null),
  managerUserId: fc.constantFrom('VAL-mgr-1', 'VAL-mgr-2', null),
  customFields: fc.dictionary(fc.constantFrom('shirt', 'desk', 'dynamic_1'), fc.oneof(text, fc.constantFrom(['VAL-x', 'VAL-y'], { VAL: 'VAL-z' }))),
  contentHash: fc.constantFrom('h1', 'h2'),
  syncedAt: fc.constantFrom('2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z'),
  changedInRun: fc.constantFrom('run-1', 'run-2'),
  updatedAt: fc.constantFrom('2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z'),
});

describe('user change events, for any pair of user records (property-based)', () => {
  it('list exactly the contract fields whose values differ, publish nothing when none does, and never carry a value', () => {
    fc.assert(
      fc.property(userArbitrary, userArbitrary, (before, after) => {
        // Prepare
        const item = (content: typeof before) => storedUser({ ...content, createdInRun: 'run-1' });
        const differs = (a: unknown, b: unknown) => JSON.stringify(a ?? null) !== JSON.stringify(b ?? null);
        const expected = [
          ...userContractFields.filter((f) => differs(before[f], after[f])),
          ...[...new Set([...Object.keys(before.customFields), ...Object.keys(after.customFields)])]
            .sort()
            .filter((name) => differs(before.customFields[name], after.customFields[name]))
            .map((name) => `customFields.${name}`),
        ];

        // Act
        const event = eventOf('MODIFY', { old: item(before), new: item(after) }, '500');

        // Assess
        if (expected.length === 0) return expect(event).toBeUndefined();
        expect(event?.detail['changedFields']).toEqual(expected);
        const kind = before.active && !after.active ? 'User Deactivated' : !before.active && after.active ? 'User Reactivated' : 'User Updated';
        expect(event?.detailType).toBe(kind);
        expect(valuesIn(event?.detail)).not.toMatch(/VAL|9000|199\d-|internal|external|onboarding|inactive|leave/);
      }),
      { numRuns: 500 },
    );
  });

  it('list, for a new user, the contract fields it has a value in, and never a value', () => {
    fc.assert(
      fc.property(userArbitrary, (user) => {
        // Act
        const event = eventOf('INSERT', { new: storedUser(user) }, '501');

        // Assess
        const expected = [
          // `active` always has a value, so a new user always lists it.
          ...userContractFields.filter((f) => f === 'active' || user[f] !== null),
          ...Object.keys(user.customFields)
            .sort()
            .filter((name) => user.customFields[name] !== null)
            .map((name) => `customFields.${name}`),
        ];
        expect(event?.detailType).toBe('User Created');
        expect(event?.detail['changedFields']).toEqual(expected);
        expect(valuesIn(event?.detail)).not.toMatch(/VAL|9000|199\d-|internal|external|onboarding|inactive|leave/);
      }),
      { numRuns: 200 },
    );
  });
});
