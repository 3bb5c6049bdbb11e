import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import type { RunReport } from '../../lib/runs/run.js';
import { runMarkersPrefix, runSk } from '../../lib/storage/tables.js';
import type { PersonioSim } from '../../local/personio-sim/index.js';
import { localNames } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { queryByPrefix } from '../../lib/storage/query.js';
import { apiCaller, eventually } from '../helpers/connect-support.js';
import { lambdaContext, sqsEvent } from '../helpers/events.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';
import { freshSimulatorBehind, useFrontedEnvironment } from '../helpers/personio-front.js';
import { fetchAndHold } from '../helpers/queue.js';

/**
 * The run lifecycle rules (DESIGN §3) where they protect people: no import deactivates someone who still works there,
 * an old message never brings a leaver back, a held run's approval applies exactly its decision, one odd value never
 * stops a tenant, and contention that real DynamoDB produces does not fail a run. Each test has its own simulator
 * behind one Personio front, so no test sees another's leavers.
 */
describe('run lifecycle rules', () => {
  const world = useFrontedEnvironment();
  let sim: PersonioSim;
  const sims: PersonioSim[] = [];
  const call = apiCaller(() => world.env);
  const db = createDocumentClient();

  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
  });

  beforeEach(async () => {
    await world.env.eventSource.stop();
    sim = await freshSimulatorBehind(world.front, { employees: 30, seed: 7 });
    sims.push(sim);
  });

  const connect = (tenant: string) => connectThroughApi(world.env, tenant, world.env.personio);
  const importAll = async (tenant: string): Promise<RunReport> => {
    const report = await runImport(world.env, tenant, { timeoutMs: 60_000 });
    await world.env.eventSource.stop();
    return report;
  };
  const deliver = (messages: Message[]) => world.env.handlers.worker(sqsEvent(messages), lambdaContext('personio-worker', 60_000));
  const usersById = async (tenant: string) => new Map((await world.env.users.list(tenant)).map((u) => [u.personioId, u]));
  const withEmail = () => sim.employees().filter((e) => e.email !== null && e.email.trim() !== '');
  /** What DynamoDB's TTL or the clock would do: the lease of the run's current state has run out. */
  const expireLease = (tenant: string, runId: string) =>
    db.send(
      new UpdateCommand({
        TableName: localNames.runsTable,
        Key: { tenantId: tenant, sk: runSk(runId) },
        UpdateExpression: 'SET leaseExpiresAt = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1_000 },
      }),
    );
  const messageCarrying = (messages: Message[], personioId: number) =>
    messages.find((m) => (JSON.parse(m.Body ?? '{}') as { employees: { id?: { value?: unknown } }[] }).employees.some((e) => e.id?.value === personioId));

  it('answers 409 import_running while a run is still processing, not only while its fetch runs', async () => {
    // Prepare: a run whose fetch is done and whose messages are not processed yet
    await connect('overlap');
    const { runId, messages } = await fetchAndHold(world.env, { tenantId: 'overlap' }, { remove: true });

    // Act
    const now = await call('POST', '/tenants/overlap/personio/imports');
    const scheduled = await world.env.handlers.fetch({ tenantId: 'overlap' }, lambdaContext('personio-fetch', 60_000));

    // Assess: refused while processing; accepted once the run is final
    expect(now.status).toBe(409);
    expect(now.body.error).toMatchObject({ code: 'import_running', details: { runId } });
    expect(scheduled).toEqual({ status: 'already_running', runId });
    await deliver(messages);
    expect(await world.env.runs.get('overlap', runId)).toMatchObject({ status: 'completed' });
    expect((await call('POST', '/tenants/overlap/personio/imports')).status).toBe(202);
  });

  it('keeps a leaver inactive when a message of an earlier run is delivered again after a later run deactivated them', async () => {
    // Prepare: run B saw the leaver; B completes; the leaver leaves; run C deactivates them
    await connect('redelivery');
    await importAll('redelivery');
    const leaver = withEmail()[3]!.id;
    const b = await fetchAndHold(world.env, { tenantId: 'redelivery' }, { remove: true });
    await deliver(b.messages);
    sim.removeEmployees([leaver]);
    const c = await importAll('redelivery');
    expect(c).toMatchObject({ status: 'completed', deactivated: 1 });

    // Act: B's message carrying the leaver, redelivered (an SQS retry or a DLQ redrive)
    const response = await deliver([messageCarrying(b.messages, leaver)!]);

    // Assess
    expect(response?.batchItemFailures).toEqual([]);
    expect((await usersById('redelivery')).get(leaver)).toMatchObject({ active: false, deactivationReason: 'not_in_personio' });
  });

  it('deactivates nobody hired since when a message of a stalled run is redriven days later', async () => {
    // Prepare: run R keeps one message back (it went to the DLQ); its lease runs out and the sweeper fails it
    await connect('redrive');
    await importAll('redrive');
    const r = await fetchAndHold(world.env, { tenantId: 'redrive' }, { remove: true });
    const [kept, ...rest] = r.messages;
    await deliver(rest);
    await expireLease('redrive', r.runId);
    await world.env.handlers.sweeper();
    expect(await world.env.runs.get('redrive', r.runId)).toMatchObject({ status: 'failed', failure: { code: 'run_stalled' } });
    // A hire, imported by the next run
    const [hire] = sim.addEmployees(1);
    expect(await importAll('redrive')).toMatchObject({ status: 'completed', created: 1 });

    // Act: the redrive
    const response = await deliver([kept!]);

    // Assess: R stays failed and decides nothing; everyone in Personio is active
    expect(response?.batchItemFailures).toEqual([]);
    expect(await world.env.runs.get('redrive', r.runId)).toMatchObject({ status: 'failed', deactivated: 0 });
    const users = await usersById('redrive');
    expect(users.get(hire!)).toMatchObject({ active: true });
    const shouldBeActive = withEmail().filter((e) => e.status !== 'inactive');
    expect(shouldBeActive.length).toBeGreaterThan(0);
    for (const e of shouldBeActive) expect(users.get(e.id), `employee ${e.id}`).toMatchObject({ active: true });
  });

  it('deactivates a leaver whose address HR cleared at offboarding, keeping the address it had', async () => {
    // Prepare
    await connect('cleared');
    await importAll('cleared');
    const leaver = withEmail().find((e) => e.status === 'active')!;
    const address = leaver.email!.trim().toLowerCase();
    sim.updateEmployee(leaver.id, { status: 'inactive', email: null });

    // Act
    const report = await importAll('cleared');

    // Assess: status decides; the address stays (a user needs one), and the run says Personio cleared it
    expect(report.status).toBe('completed');
    expect((await usersById('cleared')).get(leaver.id)).toMatchObject({ active: false, status: 'inactive', email: address });
    expect(report.findings.find((f) => f.code === 'values_unreadable_value')?.message).toContain(String(leaver.id));
  });

  it('neither fails a run nor frees its tenant when the fetch errs after handing the run to its messages', async () => {
    // Prepare: the tenant shows invalid_credentials from an earlier refusal, so the fetch's last step after closing
    // its run is to set it back to connected; that write dies (connections: the tenant's claim is the first write)
    await connect('after-close');
    await db.send(
      new UpdateCommand({
        TableName: localNames.connectionsTable,
        Key: { tenantId: 'after-close' },
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': 'invalid_credentials' },
      }),
    );
    const faults = injectDynamoFaults([
      {
        name: 'after-close',
        command: 'UpdateItem',
        table: localNames.connectionsTable,
        tenantId: 'after-close',
        skip: 1,
        count: 1,
        fault: { error: () => new Error('the fetch was stopped') },
      },
    ]);
    let crashed: unknown;
    try {
      // Act
      await world.env.handlers.fetch({ tenantId: 'after-close' }, lambdaContext('personio-fetch', 60_000)).catch((error: unknown) => {
        crashed = error;
      });
    } finally {
      faults.restore();
    }

    // Assess: the run was not failed and still holds the tenant; its messages finish it
    expect(faults.stats.faults.map((f) => f.rule)).toEqual(['after-close']);
    expect(crashed).toBeInstanceOf(Error);
    const [run] = await world.env.runs.list('after-close', 1);
    expect(run?.status).toBe('processing');
    expect((await call('POST', '/tenants/after-close/personio/imports')).status).toBe(409);
    world.env.eventSource.start();
    const finished = await eventually(
      async () => {
        const now = await world.env.runs.get('after-close', run!.runId);
        return now?.status === 'completed' ? now : undefined;
      },
      30_000,
      'the run finished by its messages',
    );
    await world.env.eventSource.stop();
    expect(finished).toMatchObject({ created: withEmail().length });
  });

  describe('a held run', () => {
    /** Leavers enough to pass the 20 % guard, and at least the minimum a hold needs. */
    const holdOut = async (tenant: string) => {
      await connect(tenant);
      await importAll(tenant);
      const active = (await world.env.users.list(tenant)).filter((u) => u.active);
      const leavers = active.slice(0, Math.max(3, Math.ceil(active.length * 0.3))).map((u) => u.personioId);
      sim.removeEmployees(leavers);
      const held = await importAll(tenant);
      expect(held).toMatchObject({ status: 'held', deactivated: 0 });
      return { held, leavers, active };
    };

    it('deactivates exactly the users it held when approved after its message markers expired', async () => {
      // Prepare: held, then a month passes: DynamoDB's TTL removes the run's message markers
      const { held, leavers, active } = await holdOut('late');
      expect(held.findings.find((f) => f.code === 'deactivation_held')?.message).toContain(`deactivate ${leavers.length} of ${active.length}`);
      const markers = await queryByPrefix(db, { tableName: localNames.runsTable, tenantId: 'late', prefix: runMarkersPrefix(held.runId) });
      expect(markers.length).toBeGreaterThan(0);
      for (const m of markers) await db.send(new DeleteCommand({ TableName: localNames.runsTable, Key: { tenantId: 'late', sk: m['sk'] } }));

      // Act
      const approved = await call('POST', `/tenants/late/personio/imports/${held.runId}/approve`);

      // Assess: the held list, not "everyone the markers no longer mention"
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ status: 'completed', deactivated: leavers.length });
      const users = await world.env.users.list('late');
      expect(
        users
          .filter((u) => u.deactivationReason === 'not_in_personio')
          .map((u) => u.personioId)
          .sort(),
      ).toEqual([...leavers].sort());
      for (const u of users.filter((u) => !leavers.includes(u.personioId))) expect(u.active, `user ${u.personioId}`).toBe(u.status !== 'inactive');
    });

    it('is superseded by a newer run that failed after importing employees', async () => {
      // Prepare: a newer run stalls and is failed; its messages are processed afterwards (they still apply their data)
      const { held } = await holdOut('superseded');
      const newer = await fetchAndHold(world.env, { tenantId: 'superseded' }, { remove: true });
      await expireLease('superseded', newer.runId);
      await world.env.handlers.sweeper();
      await deliver(newer.messages);
      expect(await world.env.runs.get('superseded', newer.runId)).toMatchObject({ status: 'failed' });

      // Act
      const approved = await call('POST', `/tenants/superseded/personio/imports/${held.runId}/approve`);

      // Assess: refused, and nobody deactivated
      expect(approved.status).toBe(409);
      expect(approved.body.error).toMatchObject({ code: 'run_superseded' });
      expect((await world.env.users.list('superseded')).filter((u) => u.deactivationReason)).toEqual([]);
    });

    it('cannot be approved once the tenant is disconnected', async () => {
      // Prepare
      const { held } = await holdOut('gone');
      expect((await call('DELETE', '/tenants/gone/personio')).status).toBe(200);

      // Act
      const approved = await call('POST', `/tenants/gone/personio/imports/${held.runId}/approve`);

      // Assess
      expect(approved.status).toBe(409);
      expect(approved.body.error).toMatchObject({ code: 'disconnected' });
      expect((await world.env.users.list('gone')).filter((u) => u.deactivationReason)).toEqual([]);
      expect(await world.env.runs.get('gone', held.runId)).toMatchObject({ status: 'held' });
    });
  });

  it('completes a run whose employees carry a 17-digit integer and an unstorable text value, keeping the number exact and reporting the other', async () => {
    // Prepare: Personio types a custom attribute as integer (a badge number, sent as a string) and one employee's
    // position holds an unpaired surrogate (DynamoDB cannot store it)
    const [badgeHolder, oddOne] = withEmail();
    const badge = '12345678901234567';
    world.front.rewrite = (path, body) => {
      const json = JSON.parse(body) as { data: unknown };
      if (path.endsWith('/company/employees/attributes')) {
        (json.data as unknown[]).push({ key: 'dynamic_900001', label: 'Badge', type: 'integer', universal_id: null, options: [] });
        return JSON.stringify(json);
      }
      if (!path.endsWith('/company/employees')) return undefined;
      for (const e of json.data as { attributes: Record<string, { value: unknown; label?: string; type?: string }> }[]) {
        const id = e.attributes['id']?.value;
        e.attributes['dynamic_900001'] = { label: 'Badge', value: id === badgeHolder!.id ? badge : null, type: 'integer' };
        if (id === oddOne!.id && e.attributes['position']) e.attributes['position'].value = 'Head of \uD800';
      }
      return JSON.stringify(json);
    };
    await connect('odd');
    const { fields } = (await call('GET', '/tenants/odd/personio')).body.mapping;
    expect((await call('PUT', '/tenants/odd/personio/mapping', { fields, customFields: { badge: 'dynamic_900001' } })).status).toBe(200);

    // Act
    const report = await importAll('odd');

    // Assess
    expect(report.status).toBe('completed');
    expect(report.created).toBe(withEmail().length);
    const users = await usersById('odd');
    expect(users.get(badgeHolder!.id)?.customFields).toEqual({ badge });
    expect(users.get(oddOne!.id)).toMatchObject({ active: true, position: null });
    const finding = report.findings.find((f) => f.code === 'values_not_storable');
    expect(finding?.message).toContain(String(oddOne!.id));
    expect(finding?.message).toContain('position');
    expect(JSON.stringify(report.findings)).not.toContain('Head of');
  });

  it('completes with exact counts when DynamoDB cancels transactions, refuses writes on items in a transaction and throttles', async () => {
    // Prepare: what real DynamoDB does under ten concurrent workers and DynamoDB Local never does
    await connect('contended');
    const faults = injectDynamoFaults(
      [
        { name: 'close-fetch', command: 'UpdateItem', table: localNames.runsTable, skPrefix: 'run#', fault: 'transactionConflictException', count: 1 },
        { name: 'progress', command: 'UpdateItem', table: localNames.runsTable, skPrefix: 'prog#', fault: 'transactionConflictException', count: 2 },
        { name: 'markers', command: 'PutItem', table: localNames.runsTable, skPrefix: 'msg#', fault: 'provisionedThroughputExceeded', count: 2 },
        { name: 'users', command: ['PutItem', 'UpdateItem'], table: localNames.usersTable, fault: 'throttling', skip: 3, count: 3 },
        { name: 'reads', command: 'BatchGetItem', table: localNames.usersTable, fault: 'unprocessedKeys', count: 2 },
      ],
      { seed: 11 },
    );
    let report: RunReport;
    try {
      // Act
      report = await importAll('contended');
    } finally {
      faults.restore();
    }

    // Assess: the faults struck, and the run is exactly what landed
    const struck = new Set(faults.stats.faults.map((f) => f.rule));
    expect([...struck]).toEqual(expect.arrayContaining(['close-fetch', 'progress', 'markers', 'users', 'reads']));
    expect(report).toMatchObject({ status: 'completed', created: withEmail().length, deactivated: 0 });
    const users = await world.env.users.list('contended');
    expect(users).toHaveLength(withEmail().length);
    expect(new Set(users.map((u) => u.personioId)).size).toBe(users.length);
  });
});
