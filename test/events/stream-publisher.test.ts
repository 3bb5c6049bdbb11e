import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { envNames } from '../../lib/config.js';
import type { MappedEmployee } from '../../lib/mapping/map-employee.js';
import { defaultMapping } from '../../lib/mapping/mapping.js';
import { RunStore } from '../../lib/runs/store.js';
import { tableDefinition } from '../../lib/storage/tables.js';
import { personioUserId, UserStore } from '../../lib/users/store.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalStack, startLocalStack } from '../../local/aws/stack.js';
import { localNames } from '../../local/runner/environment.js';
import { DynamoStreamSource, type StreamFailure, type StreamHandler } from '../../local/runner/stream-source.js';

const eventBus = 'dado-personio-events';

function employee(personioId: number, fields: MappedEmployee['fields'], status: 'active' | 'inactive' = 'active'): MappedEmployee {
  return { personioId, fields: { status, ...fields }, customFields: { shirt: `VAL-${personioId}` }, problems: [], personioStatus: status };
}
const run = (n: number) => ({ runId: `run-${n}`, fetchedAt: `2026-11-0${n}T00:00:00.000Z` });

describe('change events end to end: writes through lib/users and lib/runs → DynamoDB Local streams → the publisher → EventBridge', () => {
  let stack: LocalStack;
  let users: UserStore;
  let runs: RunStore;
  let handler: StreamHandler;
  const sources: DynamoStreamSource[] = [];

  const eventsOf = (tenantId: string) => stack.eventBridge.events().filter((e) => e.detail['tenantId'] === tenantId);
  const source = async (tableName: string, options: { maxRetries?: number; onFailure?: (f: StreamFailure) => void } = {}) => {
    const s = new DynamoStreamSource({ endpoint: stack.endpoints.dynamodb, tableName, handler, pollIntervalMs: 20, ...options });
    sources.push(s);
    await s.start();
    return s;
  };

  beforeAll(async () => {
    stack = await startLocalStack();
    await stack.provision({ ...localNames, eventBus });
    Object.assign(process.env, stack.env, { [envNames.eventBusName]: eventBus, [envNames.stage]: 'local' });
    const db = createDocumentClient();
    users = new UserStore(db, localNames.usersTable);
    runs = new RunStore(db, localNames.runsTable);
    // The deployed handler, reading its configuration at module load as on Lambda.
    handler = (await import('../../functions/publisher.js')).handler as StreamHandler;
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(sources.map((s) => s.stop()));
    await stack?.stop();
  });

  it('publishes each user created, updated, deactivated and reactivated by the import, with the changed field names and never a value', async () => {
    // Prepare
    const usersStream = await source(localNames.usersTable);
    const tenantId = 'e2e-users';
    const id = (p: number) => personioUserId(tenantId, p);

    // Act: create three; change one's name and let another leave; bring the leaver back; a run deactivates the third
    await users.upsertMany(
      tenantId,
      [1, 2, 3].map((p) => employee(p, { email: `VAL-${p}@example.com`, firstName: `VAL-F${p}`, lastName: `VAL-L${p}` })),
      run(1),
    );
    await users.upsertMany(
      tenantId,
      [
        employee(1, { email: 'VAL-1@example.com', firstName: 'VAL-F1', lastName: 'VAL-Renamed' }),
        employee(2, { email: 'VAL-2@example.com', firstName: 'VAL-F2', lastName: 'VAL-L2' }),
        employee(3, { email: 'VAL-3@example.com', firstName: 'VAL-F3', lastName: 'VAL-L3' }, 'inactive'),
      ],
      run(2),
    );
    await users.upsertMany(tenantId, [employee(3, { email: 'VAL-3@example.com', firstName: 'VAL-F3', lastName: 'VAL-L3' })], run(3));
    const stored = (await users.getStored(tenantId, [id(2)])).get(id(2));
    expect(stored && (await users.deactivate(tenantId, stored, { asOf: run(4).fetchedAt, runId: 'run-4', reason: 'not_in_personio' }))).toBe(true);
    await usersStream.idle();

    // Assess: per user, the events in the order of its writes, one per write that changed the record
    const of = (userId: string) =>
      eventsOf(tenantId)
        .filter((e) => e.detail['userId'] === userId)
        .map((e) => [e['detail-type'], e.detail['runId'], e.detail['changedFields']]);
    const created = ['User Created', 'run-1', ['email', 'firstName', 'lastName', 'status', 'active', 'customFields.shirt']];
    expect(of(id(1))).toEqual([created, ['User Updated', 'run-2', ['lastName']]]);
    expect(of(id(2))).toEqual([created, ['User Deactivated', 'run-4', ['active']]]);
    expect(of(id(3))).toEqual([created, ['User Deactivated', 'run-2', ['status', 'active']], ['User Reactivated', 'run-3', ['status', 'active']]]);
    for (const event of eventsOf(tenantId)) {
      expect(event.source).toBe('dado.personio-import');
      expect(event.detail).toMatchObject({ version: 1, tenantId, stage: 'local', personioId: expect.any(Number) });
      expect(JSON.stringify(event.detail)).not.toMatch(/VAL|example\.com|inactive/);
    }
    expect(new Set(eventsOf(tenantId).map((e) => e.detail['idempotencyKey'])).size).toBe(7);
  });

  it('publishes a run’s outcome once, when it completes or fails, and nothing for its markers and progress', async () => {
    // Prepare
    const runsStream = await source(localNames.runsTable);
    const tenantId = 'e2e-runs';
    const start = {
      tenantId,
      mode: 'full' as const,
      trigger: 'schedule',
      mapping: defaultMapping(),
      startedAt: new Date(),
      leaseExpiresAt: Date.now() + 600_000,
    };

    // Act: one run fails in its fetch; another is fetched, processes a message and completes
    await runs.create({ ...start, runId: '20261101T000000.000Z-0000000a' });
    await runs.fail(tenantId, '20261101T000000.000Z-0000000a', { code: 'personio_unavailable', message: 'down' }, {}, new Date());
    const runId = '20261101T010000.000Z-0000000b';
    await runs.create({ ...start, runId });
    const marker = { seq: 1, personioIds: [1, 2, 3], presentFields: ['email'], failures: [], problems: [], statusSeen: 3, deferred: [] };
    await runs.recordMessage(tenantId, runId, { ...marker, created: 2, updated: 1, unchanged: 0, failed: 0, dynamoWriteRequests: 3 });
    await runs.closeFetch(tenantId, runId, {
      messagesSent: 1,
      employeesFetched: 3,
      personioTotal: 3,
      personioRequests: 2,
      personio429: 0,
      findings: [],
      rejected: [],
      at: new Date(),
      leaseExpiresAt: Date.now() + 600_000,
    });
    expect(await runs.claimFinalization(tenantId, runId, new Date(), Date.now() + 600_000)).toBe(true);
    await runs.finish(tenantId, runId, {
      from: 'finalizing',
      status: 'completed',
      findings: [],
      deactivated: 0,
      at: new Date(),
      counts: { created: 2, updated: 1, unchanged: 0, failed: 0, dynamoWriteRequests: 3, messagesProcessed: 1 },
    });
    await runsStream.idle();

    // Assess
    expect(eventsOf(tenantId).map((e) => [e['detail-type'], e.detail['runId'], e.detail['status'], e.detail['counts']])).toEqual([
      ['Run Failed', '20261101T000000.000Z-0000000a', 'failed', { created: 0, updated: 0, unchanged: 0, deactivated: 0, failed: 0 }],
      ['Run Completed', runId, 'completed', { created: 2, updated: 1, unchanged: 0, deactivated: 0, failed: 0 }],
    ]);
    expect(eventsOf(tenantId)[1]?.detail).toMatchObject({ mode: 'full', trigger: 'schedule', stage: 'local' });
  });

  it('publishes every change at least once when the bus fails for a while and recovers', async () => {
    // Prepare
    const usersStream = sources[0] ?? (await source(localNames.usersTable));
    const tenantId = 'e2e-outage';
    const ids = Array.from({ length: 25 }, (_, i) => 100 + i);

    // Act: the bus refuses a few entries, then is down for a while, then back
    stack.eventBridge.failNext(7);
    await users.upsertMany(
      tenantId,
      ids.slice(0, 10).map((p) => employee(p, { email: `VAL-${p}@example.com` })),
      run(1),
    );
    stack.eventBridge.setUnavailable(true);
    await users.upsertMany(
      tenantId,
      ids.slice(10).map((p) => employee(p, { email: `VAL-${p}@example.com` })),
      run(1),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    stack.eventBridge.setUnavailable(false);
    await usersStream.idle(45_000);

    // Assess: each user's creation is on the bus (once or more; the key tells copies apart from changes)
    const published = eventsOf(tenantId);
    expect(new Set(published.map((e) => e.detail['userId']))).toEqual(new Set(ids.map((p) => personioUserId(tenantId, p))));
    expect(new Set(published.map((e) => e.detail['idempotencyKey'])).size).toBe(ids.length);
    expect(usersStream.stats.dropped).toBe(0);
    expect(usersStream.stats.retries).toBeGreaterThan(0);
  }, 60_000);

  it('gives records up after the retries and reports them, as an on-failure destination would get them', async () => {
    // Prepare: a table of its own, so only this poller sees its stream
    const tableName = 'dado-personio-users-drop';
    const raw = new DynamoDBClient({ endpoint: stack.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await raw.send(new CreateTableCommand(tableDefinition('users', tableName)));
    raw.destroy();
    const failures: StreamFailure[] = [];
    const dropping = await source(tableName, { maxRetries: 1, onFailure: (f) => failures.push(f) });

    // Act
    stack.eventBridge.setUnavailable(true);
    try {
      await new UserStore(createDocumentClient(), tableName).upsertMany('e2e-drop', [employee(7, { email: 'VAL-7@example.com' })], run(1));
      await dropping.idle(45_000);
    } finally {
      stack.eventBridge.setUnavailable(false);
    }

    // Assess
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ tableName, attempts: 2, reason: 'batch_item_failures' });
    expect(failures[0]?.records.map((r) => r.eventName)).toEqual(['INSERT']);
    expect(dropping.stats.dropped).toBe(1);
  }, 60_000);
});
