import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import type { MappedEmployee } from '../../lib/mapping/map-employee.js';
import { UserStore, personioUserId } from '../../lib/users/store.js';
import { UserWrites } from '../../lib/users/user-writes.js';
import { startLocalStack, type LocalStack } from '../../local/aws/stack.js';
import { localNames } from '../../local/runner/environment.js';

function employee(personioId: number, fields: MappedEmployee['fields']): MappedEmployee {
  return { personioId, fields, customFields: {}, problems: [] };
}

const run1 = { runId: 'run-1', fetchedAt: '2026-11-01T00:00:00.000Z' };
const run2 = { runId: 'run-2', fetchedAt: '2026-11-02T00:00:00.000Z' };

describe('the user store on DynamoDB Local', () => {
  let stack: LocalStack;
  let users: UserStore;
  let db: ReturnType<typeof createDocumentClient>;

  beforeAll(async () => {
    stack = await startLocalStack();
    await stack.provision(localNames);
    Object.assign(process.env, stack.env);
    db = createDocumentClient();
    users = new UserStore(db, localNames.usersTable);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('links an existing Dado user with the same email instead of creating a second one', async () => {
    // Prepare: a user Dado created before the tenant connected Personio
    await db.send(
      new PutCommand({
        TableName: localNames.usersTable,
        Item: {
          tenantId: 't-link',
          sk: 'user#dado-42',
          userId: 'dado-42',
          email: 'ada@example.com',
          emailKey: 'ada@example.com',
          firstName: 'Ada',
          active: true,
          customFields: {},
        },
      }),
    );

    // Act
    const outcome = await users.upsertMany(
      't-link',
      [employee(7, { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', status: 'active' })],
      run1,
    );

    // Assess
    expect(outcome).toMatchObject({ created: 0, updated: 1, failures: [] });
    const all = await users.list('t-link');
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ userId: 'dado-42', personioId: 7, lastName: 'Lovelace', email: 'ada@example.com' });
  });

  it('follows an email change in Personio on the same user', async () => {
    // Prepare
    await users.upsertMany('t-mail', [employee(8, { email: 'old@example.com', status: 'active' })], run1);

    // Act
    const outcome = await users.upsertMany('t-mail', [employee(8, { email: 'new@example.com', status: 'active' })], run2);

    // Assess
    expect(outcome).toMatchObject({ created: 0, updated: 1 });
    const all = await users.list('t-mail');
    expect(all).toEqual([expect.objectContaining({ userId: personioUserId('t-mail', 8), email: 'new@example.com' })]);
  });

  it('lets no older message overwrite newer data', async () => {
    // Prepare: the newer run's data is already in
    await users.upsertMany('t-order', [employee(9, { email: 'n@example.com', position: 'CTO', status: 'active' })], run2);

    // Act: a late redelivery from the older run
    const outcome = await users.upsertMany('t-order', [employee(9, { email: 'n@example.com', position: 'Intern', status: 'active' })], run1);

    // Assess
    expect(outcome).toMatchObject({ updated: 0, unchanged: 1, writeRequests: 0 });
    expect((await users.list('t-order'))[0]?.position).toBe('CTO');
  });

  it('refuses to give one email to two active Personio employees once the run has seen everyone, naming both', async () => {
    // Prepare
    await users.upsertMany('t-dup', [employee(10, { email: 'same@example.com', status: 'active' })], run1);

    // Act: during the next run the holder may still turn out gone (deferred); at that run's completion it is a
    // conflict; and within the run that wrote the holder, it is a conflict at once
    const during = await users.upsertMany('t-dup', [employee(11, { email: 'same@example.com', status: 'active' })], run2);
    const atCompletion = await users.upsertMany('t-dup', during.deferred, { ...run2, final: true });
    const sameRun = await users.upsertMany('t-dup', [employee(12, { email: 'same@example.com', status: 'active' })], run1);

    // Assess
    expect(during).toMatchObject({ created: 0, failures: [], deferred: [{ personioId: 11 }] });
    expect(atCompletion.failures).toEqual([{ personioId: 11, reason: 'email_taken', otherPersonioId: 10 }]);
    expect(sameRun).toMatchObject({ created: 0, deferred: [], failures: [{ personioId: 12, reason: 'email_taken', otherPersonioId: 10 }] });
    expect(await users.list('t-dup')).toHaveLength(1);
  });

  it('costs one write per new user and none for unchanged ones', async () => {
    // Prepare
    const batch = Array.from({ length: 50 }, (_, i) =>
      employee(100 + i, { email: `u${i}@example.com`, status: 'active', managerPersonioId: i > 0 ? 100 : null }),
    );

    // Act
    const first = await users.upsertMany('t-cost', batch, run1);
    const again = await users.upsertMany('t-cost', batch, run2);

    // Assess
    expect(first).toMatchObject({ created: 50, writeRequests: 50 });
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 50, writeRequests: 0 });
    const all = await users.list('t-cost');
    const manager = all.find((u) => u.personioId === 100)!;
    expect(all.filter((u) => u.personioId !== 100).every((u) => u.managerUserId === manager.userId)).toBe(true);
  });

  it('moves an unchanged user’s syncedAt forwards on a touching (delta) read only, never backwards, changing nothing else', async () => {
    // Prepare
    const ada = [employee(300, { email: 'ada@example.com', position: 'CTO', status: 'active' })];
    const run3 = { runId: 'run-3', fetchedAt: '2026-11-03T00:00:00.000Z' };
    await users.upsertMany('t-touch', ada, run1);
    const [created] = await users.listStored('t-touch');

    // Act: an unchanged full re-import, a touching read, then an older touching read arriving late
    const plain = await users.upsertMany('t-touch', ada, run2);
    const afterPlain = await users.listStored('t-touch');
    const touched = await users.upsertMany('t-touch', ada, { ...run3, touch: true });
    const afterTouch = await users.listStored('t-touch');
    const late = await users.upsertMany('t-touch', ada, { ...run2, touch: true });
    const olderWrite = await new UserWrites(db, localNames.usersTable).touch('t-touch', personioUserId('t-touch', 300), run1.fetchedAt);

    // Assess: without the flag nothing is written; with it only syncedAt moves, counted as unchanged; never back
    expect(plain).toMatchObject({ created: 0, updated: 0, unchanged: 1, writeRequests: 0 });
    expect(afterPlain).toEqual([created]);
    expect(touched).toMatchObject({ created: 0, updated: 0, unchanged: 1, writeRequests: 1 });
    expect(afterTouch).toEqual([{ ...created, syncedAt: run3.fetchedAt }]);
    expect(late).toMatchObject({ updated: 0, unchanged: 1, writeRequests: 0 });
    expect(olderWrite).toBe(false);
    expect(await users.listStored('t-touch')).toEqual([{ ...created, syncedAt: run3.fetchedAt }]);
  });

  it('clears a field on an explicit null and keeps it when the attribute is absent', async () => {
    // Prepare
    await users.upsertMany('t-null', [employee(12, { email: 'x@example.com', department: 'Sales', office: 'Berlin', status: 'active' })], run1);

    // Act: department no longer readable (absent), office cleared in Personio (null)
    await users.upsertMany('t-null', [employee(12, { email: 'x@example.com', office: null, status: 'active' })], run2);

    // Assess
    expect((await users.list('t-null'))[0]).toMatchObject({ department: 'Sales', office: null });
  });
});
