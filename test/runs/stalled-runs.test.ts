import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { FetchOutcome } from '../../lib/fetch/run-fetch.js';
import { isFinalRunStatus, type RunReport } from '../../lib/runs/run.js';
import { runSk } from '../../lib/storage/tables.js';
import { localNames } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { apiCaller, eventually, importThroughApi } from '../helpers/connect-support.js';
import { httpEvent, lambdaContext } from '../helpers/events.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';
import { fetchAndHold, queueDepth } from '../helpers/queue.js';
import { deliver, expireLease, setClaim, useRunsWorld, type TenantPersonio } from './support.js';

/**
 * Issue 11, item 5: nothing stays stuck. A run whose lease expired is failed (`fetching`, `processing`) or finished
 * (`finalizing`, `approving`) by whoever comes next for the tenant (its next fetch, the API, the sweeper), exactly
 * once, and the tenant can import again.
 */
describe('stalled runs', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);

  const fetchNow = (event: unknown): Promise<FetchOutcome> => world.env.handlers.fetch(event, lambdaContext('personio-fetch', 60_000));
  const report = async (tenantId: string, runId: string): Promise<RunReport> => {
    const answer = await call('GET', `/tenants/${tenantId}/personio/imports/${runId}`);
    expect(answer.status).toBe(200);
    return answer.body as RunReport;
  };
  const importAll = async (tenantId: string): Promise<RunReport> => {
    const done = await runImport(world.env, tenantId, { timeoutMs: 60_000 });
    await world.env.eventSource.stop();
    return done;
  };
  const activeIds = async (tenantId: string) => (await world.env.users.list(tenantId)).filter((u) => u.active).map((u) => u.personioId);
  /** Imported once, then `count` active employees leave Personio. */
  const importedThenLeaving = async (personio: TenantPersonio, count: number) => {
    await personio.connect();
    expect(await importAll(personio.tenantId)).toMatchObject({ status: 'completed', deactivated: 0 });
    const active = await activeIds(personio.tenantId);
    const leavers = active.slice(0, count);
    expect(leavers).toHaveLength(count);
    personio.sim.removeEmployees(leavers);
    return { leavers, active };
  };
  /** The run's processing is done except for `last`, the message whose worker finishes it. */
  const allButLast = async (tenantId: string): Promise<{ runId: string; last: Message }> => {
    const { runId, messages } = await fetchAndHold(world.env, { tenantId }, { remove: true });
    expect(messages.length).toBeGreaterThan(1);
    const last = messages[messages.length - 1]!;
    expect((await deliver(world.env, messages.slice(0, -1)))?.batchItemFailures).toEqual([]);
    expect(await world.env.runs.get(tenantId, runId)).toMatchObject({ status: 'processing' });
    return { runId, last };
  };
  const runRecordKey = (runId: string) => (key: Record<string, unknown>) => key['sk'] === runSk(runId);
  const killed = () => new Error('Task timed out after 180.00 seconds');

  it('fails a run whose fetch was killed, from the next scheduled fetch once its lease expired, which then imports; before that the fetch starts nothing', async () => {
    // Prepare: the fetch sends its messages and is killed before it closes the run (the call never answers)
    const personio = await world.personio('killed-fetch');
    await personio.connect();
    let hung!: () => void;
    const reachedClose = new Promise<void>((resolve) => (hung = resolve));
    const faults = world.restoredAfterTest(
      injectDynamoFaults([
        {
          name: 'killed',
          command: 'UpdateItem',
          table: localNames.runsTable,
          tenantId: 'killed-fetch',
          skPrefix: 'run#',
          count: 1,
          fault: 'hang',
          onFault: () => hung(),
        },
      ]),
    );
    void fetchNow({ tenantId: 'killed-fetch' });
    await reachedClose;
    faults.restore();
    const [stalled] = await world.env.runs.list('killed-fetch', 5);
    expect(stalled).toMatchObject({ status: 'fetching' });

    // Act: the schedule fires within the lease, and again once the lease has expired
    const early = await fetchNow({ tenantId: 'killed-fetch' });
    const runsEarly = await world.env.runs.list('killed-fetch', 5);
    await expireLease('killed-fetch', stalled!.runId);
    const next = await importAll('killed-fetch');

    // Assess: nothing started within the lease; afterwards the stalled run is failed, naming its state, and a new run imports
    expect(early).toEqual({ status: 'already_running', runId: stalled!.runId });
    expect(runsEarly.map((r) => r.runId)).toEqual([stalled!.runId]);
    const failed = await report('killed-fetch', stalled!.runId);
    expect(failed).toMatchObject({ status: 'failed', deactivated: 0 });
    expect(failed.findings[0]).toMatchObject({ code: 'run_stalled' });
    expect(failed.findings[0]!.message).toContain('fetching');
    const withEmail = personio.sim.employees().filter((e) => e.email !== null && e.email.trim() !== '');
    expect(next.runId).not.toBe(stalled!.runId);
    expect(next).toMatchObject({ status: 'completed', employeesFetched: personio.sim.employees().length, deactivated: 0 });
    const users = await world.env.users.list('killed-fetch');
    expect(users.map((u) => u.personioId).sort()).toEqual(withEmail.map((e) => e.id).sort());
  });

  it('fails a run left processing from the sweeper once its lease expired, deactivating nobody; import now answers 409 with the run until then and 202 after', async () => {
    // Prepare: a leaver; the next run's messages are processed except one, which never arrives (it sits in the DLQ)
    const personio = await world.personio('stuck-processing', { employees: 250 });
    const { leavers } = await importedThenLeaving(personio, 1);
    const { runId, messages } = await fetchAndHold(world.env, { tenantId: 'stuck-processing' }, { remove: true });
    expect(messages.length).toBeGreaterThan(1);
    const [kept, ...rest] = messages;
    expect((await deliver(world.env, rest))?.batchItemFailures).toEqual([]);

    // Act
    const busy = await call('POST', '/tenants/stuck-processing/personio/imports');
    const statusWithinLease = (await world.env.runs.get('stuck-processing', runId))?.status;
    await expireLease('stuck-processing', runId);
    await world.env.handlers.sweeper();
    const swept = await report('stuck-processing', runId);
    const leaverAfterSweep = (await world.env.users.list('stuck-processing')).find((u) => u.personioId === leavers[0]);
    // The message it waited for turns up after all (a DLQ redrive): its data applies, the run decides nothing
    const late = await deliver(world.env, [kept!]);
    world.env.eventSource.start();
    const next = await importThroughApi(() => world.env, call)('stuck-processing');

    // Assess
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'import_running', details: { runId } });
    expect(statusWithinLease).toBe('processing');
    expect(swept).toMatchObject({ status: 'failed', deactivated: 0 });
    expect(swept.findings[0]).toMatchObject({ code: 'run_stalled' });
    expect(swept.findings[0]!.message).toContain('processing');
    expect(leaverAfterSweep).toMatchObject({ active: true });
    expect(late?.batchItemFailures).toEqual([]);
    expect(await report('stuck-processing', runId)).toMatchObject({ status: 'failed', deactivated: 0 });
    expect(next.runId).not.toBe(runId);
    expect(next).toMatchObject({ status: 'completed', deactivated: 1 });
    const users = await world.env.users.list('stuck-processing');
    expect(users.find((u) => u.personioId === leavers[0])).toMatchObject({ active: false, deactivationReason: 'not_in_personio' });
    expect(users.filter((u) => u.deactivationReason)).toHaveLength(1);
  });

  it('fails a run left processing from "import now" once its lease expired, and starts the new import', async () => {
    // Prepare: a run whose messages are never processed (all of them in the DLQ)
    const personio = await world.personio('stuck-api');
    await personio.connect();
    const { runId } = await fetchAndHold(world.env, { tenantId: 'stuck-api' }, { remove: true });
    await expireLease('stuck-api', runId);
    world.env.eventSource.start();

    // Act: nobody ran the sweeper; the admin clicks "import now"
    const next = await importThroughApi(() => world.env, call)('stuck-api');

    // Assess
    const stalled = await report('stuck-api', runId);
    expect(stalled).toMatchObject({ status: 'failed', deactivated: 0 });
    expect(stalled.findings[0]).toMatchObject({ code: 'run_stalled' });
    expect(next.runId).not.toBe(runId);
    expect(next).toMatchObject({ status: 'completed', created: personio.sim.employees().filter((e) => e.email !== null && e.email.trim() !== '').length });
  });

  it('frees a tenant whose accepted import never started its fetch once the claim expired', async () => {
    // Prepare: "import now" claimed the tenant for a run, and its asynchronous fetch never arrived
    const personio = await world.personio('lost-invoke');
    await personio.connect();
    const lost = '20261201T060000.000Z-0000beef';
    await setClaim('lost-invoke', { activeRunId: lost, lockExpiresAt: Date.now() + 60_000 });

    // Act
    const busy = await call('POST', '/tenants/lost-invoke/personio/imports');
    const scheduled = await fetchNow({ tenantId: 'lost-invoke' });
    await setClaim('lost-invoke', { activeRunId: lost, lockExpiresAt: Date.now() - 1_000 });
    await world.env.handlers.sweeper();
    const freed = await world.env.connections.get('lost-invoke');
    world.env.eventSource.start();
    const next = await importThroughApi(() => world.env, call)('lost-invoke');

    // Assess
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'import_running', details: { runId: lost } });
    expect(scheduled).toEqual({ status: 'already_running', runId: lost });
    expect(freed?.activeRunId).toBeUndefined();
    expect(next.status).toBe('completed');
  });

  describe('a stalled finalization', () => {
    it('claimed by a worker that died before writing anything is finished by the sweeper, deactivating once; a redelivery finishes nothing twice', async () => {
      // Prepare: two leavers; the worker of the last message claims the finalization and dies right after
      const personio = await world.personio('final-claimed', { employees: 250 });
      const { leavers } = await importedThenLeaving(personio, 2);
      const { runId, last } = await allButLast('final-claimed');
      const faults = world.restoredAfterTest(
        injectDynamoFaults([
          // The run is read when the message starts and again once the finalization is claimed: the second read dies.
          {
            name: 'died',
            command: 'GetItem',
            table: localNames.runsTable,
            tenantId: 'final-claimed',
            key: runRecordKey(runId),
            skip: 1,
            count: 1,
            fault: { error: killed },
          },
        ]),
      );
      expect((await deliver(world.env, [last]))?.batchItemFailures).toHaveLength(1);
      faults.restore();
      expect(await world.env.runs.get('final-claimed', runId)).toMatchObject({ status: 'finalizing' });

      // Act: SQS delivers the message again within the finalization's lease; then the lease expires and the sweeper runs
      const redelivered = await deliver(world.env, [last]);
      const withinLease = await world.env.runs.get('final-claimed', runId);
      await expireLease('final-claimed', runId);
      await world.env.handlers.sweeper();
      const finished = await report('final-claimed', runId);
      const usersAfter = await world.env.users.list('final-claimed');
      const again = await deliver(world.env, [last]);

      // Assess: finished once, by the sweeper, with its deactivations; the later redelivery changes nothing
      expect(redelivered?.batchItemFailures).toEqual([]);
      expect(withinLease).toMatchObject({ status: 'finalizing' });
      expect(finished).toMatchObject({ status: 'completed', deactivated: 2 });
      expect(
        usersAfter
          .filter((u) => u.deactivationReason)
          .map((u) => u.personioId)
          .sort(),
      ).toEqual([...leavers].sort());
      expect(again?.batchItemFailures).toEqual([]);
      expect(await report('final-claimed', runId)).toEqual(finished);
      expect(await world.env.users.list('final-claimed')).toEqual(usersAfter);
    });

    it('that died after deactivating is finished by the sweeper and reports the deactivations it made', async () => {
      // Prepare: two leavers; the worker finishing the run deactivates them, then dies before the run is marked completed
      const personio = await world.personio('final-died', { employees: 250 });
      const { leavers } = await importedThenLeaving(personio, 2);
      const { runId, last } = await allButLast('final-died');
      const faults = world.restoredAfterTest(
        injectDynamoFaults([
          // The run record is updated twice by the finishing worker: the claim, then the report. The report dies.
          {
            name: 'died',
            command: 'UpdateItem',
            table: localNames.runsTable,
            tenantId: 'final-died',
            key: runRecordKey(runId),
            skip: 1,
            count: 1,
            fault: { error: killed },
          },
        ]),
      );
      expect((await deliver(world.env, [last]))?.batchItemFailures).toHaveLength(1);
      faults.restore();
      expect(await world.env.runs.get('final-died', runId)).toMatchObject({ status: 'finalizing' });

      // Act
      await expireLease('final-died', runId);
      await world.env.handlers.sweeper();
      const again = await deliver(world.env, [last]);

      // Assess: the report says what landed in the table (two users deactivated by this run), once
      const finished = await report('final-died', runId);
      const deactivated = (await world.env.users.list('final-died')).filter((u) => u.deactivationReason);
      expect(deactivated.map((u) => u.personioId).sort()).toEqual([...leavers].sort());
      expect(again?.batchItemFailures).toEqual([]);
      expect(finished).toMatchObject({ status: 'completed', deactivated: 2 });
    });
  });

  describe('a stalled approval', () => {
    /** A held run: more than 20 % of the active users left Personio. */
    const heldRun = async (tenantId: string) => {
      const personio = await world.personio(tenantId);
      await personio.connect();
      await importAll(tenantId);
      const active = await activeIds(tenantId);
      const leavers = active.slice(0, Math.max(3, Math.ceil(active.length * 0.3)));
      personio.sim.removeEmployees(leavers);
      const held = await importAll(tenantId);
      expect(held).toMatchObject({ status: 'held', deactivated: 0 });
      return { runId: held.runId, leavers };
    };
    const approve = (tenantId: string, runId: string) => call('POST', `/tenants/${tenantId}/personio/imports/${runId}/approve`);
    /** An approval whose Lambda invocation dies: its answer never reaches the admin (nor the contract checks). */
    const approveAndDie = (tenantId: string, runId: string) =>
      world.env.handlers.connect(httpEvent('POST', `/tenants/${tenantId}/personio/imports/${runId}/approve`));
    const deactivatedIds = async (tenantId: string) =>
      (await world.env.users.list(tenantId))
        .filter((u) => u.deactivationReason)
        .map((u) => u.personioId)
        .sort();

    it('is refused while its lease runs, and approved again once it expired, answering the users it deactivated', async () => {
      // Prepare: the approval claims the run and dies before deactivating anyone
      const { runId, leavers } = await heldRun('approval-died');
      const faults = world.restoredAfterTest(
        injectDynamoFaults([
          { name: 'died', command: 'BatchGetItem', table: localNames.usersTable, tenantId: 'approval-died', count: 1, fault: { error: killed } },
        ]),
      );
      expect((await approveAndDie('approval-died', runId)).statusCode).toBe(500);
      faults.restore();
      expect(await world.env.runs.get('approval-died', runId)).toMatchObject({ status: 'approving' });

      // Act
      const within = await approve('approval-died', runId);
      await expireLease('approval-died', runId);
      const after = await approve('approval-died', runId);

      // Assess
      expect(within.status).toBe(409);
      expect(within.body.error).toMatchObject({ code: 'run_not_held' });
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ runId, status: 'completed', deactivated: leavers.length });
      expect(await deactivatedIds('approval-died')).toEqual([...leavers].sort());
    });

    it('holds the tenant while it is stalled: a newer import waits, and runs once the stalled approval is finished', async () => {
      // Prepare: the approval claims the run and dies
      const { runId, leavers } = await heldRun('approval-passed');
      const faults = world.restoredAfterTest(
        injectDynamoFaults([
          { name: 'died', command: 'BatchGetItem', table: localNames.usersTable, tenantId: 'approval-passed', count: 1, fault: { error: killed } },
        ]),
      );
      expect((await approveAndDie('approval-passed', runId)).statusCode).toBe(500);
      faults.restore();

      // Act: an import while the approval holds the tenant; then its lease runs out, the sweeper runs, and the
      // import is tried again
      const during = await world.env.handlers.fetch({ tenantId: 'approval-passed' }, lambdaContext('personio-fetch', 60_000));
      await expireLease('approval-passed', runId);
      await world.env.handlers.sweeper();
      const newer = await importAll('approval-passed');

      // Assess: the import waited; the admin's decision was carried out exactly; nothing is left running
      expect(during).toEqual({ status: 'already_running', runId });
      expect(await world.env.runs.get('approval-passed', runId)).toMatchObject({ status: 'completed', deactivated: leavers.length });
      expect(await deactivatedIds('approval-passed')).toEqual([...leavers].sort());
      expect(newer).toMatchObject({ status: 'completed', deactivated: 0 });
      const runs = await world.env.runs.list('approval-passed', 10);
      expect(runs.filter((r) => !isFinalRunStatus(r.status)).map((r) => `${r.runId} ${r.status}`)).toEqual([]);
    });

    it('that died after deactivating answers, when approved again, the users the approval deactivated', async () => {
      // Prepare: the approval deactivates the held users, then dies before the run is marked completed
      const { runId, leavers } = await heldRun('approval-half');
      const faults = world.restoredAfterTest(
        injectDynamoFaults([
          // The run record is updated twice by an approval: the claim, then the report. The report dies.
          {
            name: 'died',
            command: 'UpdateItem',
            table: localNames.runsTable,
            tenantId: 'approval-half',
            key: runRecordKey(runId),
            skip: 1,
            count: 1,
            fault: { error: killed },
          },
        ]),
      );
      expect((await approveAndDie('approval-half', runId)).statusCode).toBe(500);
      faults.restore();
      expect(await world.env.runs.get('approval-half', runId)).toMatchObject({ status: 'approving' });

      // Act
      await expireLease('approval-half', runId);
      const after = await approve('approval-half', runId);

      // Assess: the answer says what the approval did to the table
      expect(await deactivatedIds('approval-half')).toEqual([...leavers].sort());
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ runId, status: 'completed', deactivated: leavers.length });
    });
  });

  it('starts the run of a schedule firing whose first delivery died before starting it', async () => {
    // Prepare: the first delivery of a firing crashes before its run exists (DynamoDB refuses the tenant's claim)
    const personio = await world.personio('firing-retried');
    await personio.connect();
    const firing = { tenantId: 'firing-retried', scheduledAt: '2026-12-01T07:00:00Z' };
    const faults = world.restoredAfterTest(
      injectDynamoFaults([
        { name: 'claim', command: 'UpdateItem', table: localNames.connectionsTable, tenantId: 'firing-retried', count: 1, fault: { error: killed } },
      ]),
    );
    await expect(fetchNow(firing)).rejects.toThrow();
    faults.restore();
    expect(await world.env.runs.list('firing-retried', 5)).toEqual([]);
    world.env.eventSource.start();

    // Act: Lambda retries the asynchronous event
    const retried = await fetchNow(firing);

    // Assess: the firing starts its one run
    expect(retried.status).toBe('fetched');
    expect((await world.env.runs.list('firing-retried', 5)).map((r) => r.runId)).toEqual([(retried as { runId: string }).runId]);
  });

  it('starts one run for duplicate deliveries of one schedule firing, also once that run has completed', async () => {
    // Prepare: EventBridge Scheduler's input for one firing (delivered at least once, then retried by Lambda)
    const personio = await world.personio('one-firing');
    await personio.connect();
    const firing = { tenantId: 'one-firing', scheduledAt: '2026-12-01T06:00:00Z' };
    world.env.eventSource.start();

    // Act
    const concurrent = await Promise.all([fetchNow(firing), fetchNow(firing)]);
    const started = concurrent.flatMap((o) => (o.status === 'fetched' ? [o.runId] : []));
    const runId = started[0];
    const final = await eventually(
      async () => {
        const run = runId ? await world.env.runs.get('one-firing', runId) : undefined;
        return run && isFinalRunStatus(run.status) && (await queueDepth(world.env)) === 0 ? run : undefined;
      },
      30_000,
      'the run of the firing',
    );
    const later = await fetchNow(firing);

    // Assess
    expect(concurrent.map((o) => o.status).sort()).toEqual(['duplicate', 'fetched']);
    expect(final.status).toBe('completed');
    expect(later).toEqual({ status: 'duplicate', scheduledAt: firing.scheduledAt });
    expect(started).toHaveLength(1);
    expect((await world.env.runs.list('one-firing', 10)).map((r) => r.runId)).toEqual(started);
  });
});
