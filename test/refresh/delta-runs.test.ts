import { beforeEach, describe, expect, it } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import { newRunId, type RunReport } from '../../lib/runs/run.js';
import { pauseImports, resumeImports } from '../../lib/tenants/kill-switch.js';
import type { UserRecord } from '../../lib/users/user.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';
import { localNames } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { apiCaller } from '../helpers/connect-support.js';
import { expireLease, holdDynamoCall, setClaim, useRunsWorld } from '../runs/support.js';
import { changeBody, deliverChanges, deltaRuns, finalReport, latestDeltaReport, sleep } from './support.js';

const byPersonioId = (users: UserRecord[]) => new Map(users.map((u) => [u.personioId, u]));

describe('delta runs', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);
  const env = () => world.env;

  beforeEach(() => clearTokenCache());

  /** A connected tenant with its own simulator (30 employees, 28 of them active), imported once by a full run. */
  async function importedTenant(tenantId: string, employees = 30) {
    const personio = await world.personio(tenantId, { employees });
    await personio.connect();
    expect((await runImport(env(), tenantId)).status).toBe('completed');
    await env().eventSource.stop();
    // Employees Personio lists as active (or onboarding, on leave): their users are active.
    const ids = personio.sim
      .employees()
      .filter((e) => e.status !== 'inactive')
      .map((e) => e.id);
    return { personio, ids };
  }

  const report = async (tenantId: string, runId: string): Promise<RunReport> => {
    const answer = await call('GET', `/tenants/${tenantId}/personio/imports/${runId}`);
    expect(answer.status).toBe(200);
    return answer.body as RunReport;
  };

  it('updates exactly the changed employees, writes nothing for unchanged ones, and reads a person named twice once', async () => {
    // Prepare
    const { personio, ids } = await importedTenant('delta-update');
    const [changed, unchanged] = ids as [number, number];
    personio.sim.updateEmployee(changed, { position: 'Chief Delta Officer' });
    const before = byPersonioId(await env().users.list('delta-update'));
    const requestsBefore = personio.sim.stats().requests;

    // Act: three deliveries, two of them for the same person, in one batch
    env().eventSource.start();
    const answer = await deliverChanges([
      changeBody('delta-update', changed, 'person.updated'),
      changeBody('delta-update', changed, 'employment.updated'),
      changeBody('delta-update', unchanged),
    ]);
    const delta = await latestDeltaReport(env(), 'delta-update');

    // Assess: one delta run, one read per person, one user written
    expect(answer.batchItemFailures).toEqual([]);
    expect(await deltaRuns(env(), 'delta-update')).toHaveLength(1);
    expect(await report('delta-update', delta.runId)).toMatchObject({
      mode: 'delta',
      trigger: 'webhook',
      status: 'completed',
      employeesFetched: 2,
      created: 0,
      updated: 1,
      unchanged: 1,
      deactivated: 0,
      personio429: 0,
    });
    expect(personio.sim.stats().requests - requestsBefore).toBeLessThanOrEqual(3);
    const after = byPersonioId(await env().users.list('delta-update'));
    expect(after.get(changed)?.position).toBe('Chief Delta Officer');
    for (const [id, user] of before) if (id !== changed) expect(after.get(id), `user ${id}`).toEqual(user);
  });

  it('never deactivates by absence: an employee gone from Personio but not named stays active', async () => {
    // Prepare
    const { personio, ids } = await importedTenant('delta-absence');
    const [named, leftUnnamed] = ids as [number, number];
    personio.sim.removeEmployees([leftUnnamed]);

    // Act
    env().eventSource.start();
    await deliverChanges([changeBody('delta-absence', named)]);
    const delta = await latestDeltaReport(env(), 'delta-absence');

    // Assess
    expect(delta).toMatchObject({ status: 'completed', deactivated: 0, employeesFetched: 1 });
    expect(delta.findings.map((f) => f.code)).not.toContain('personio_list_incomplete');
    const users = await env().users.list('delta-absence');
    expect(users.filter((u) => u.deactivationReason !== undefined)).toEqual([]);
    expect(users.find((u) => u.personioId === leftUnnamed)?.active).toBe(true);
  });

  it('deactivates (never deletes) a person Personio answers 404 for, and says so in the report', async () => {
    // Prepare
    const { personio, ids } = await importedTenant('delta-deleted');
    const deleted = ids[3] as number;
    personio.sim.removeEmployees([deleted]);
    const countBefore = (await env().users.list('delta-deleted')).length;

    // Act
    env().eventSource.start();
    await deliverChanges([changeBody('delta-deleted', deleted, 'person.deleted')]);
    const delta = await latestDeltaReport(env(), 'delta-deleted');

    // Assess
    const answered = await report('delta-deleted', delta.runId);
    expect(answered).toMatchObject({ mode: 'delta', status: 'completed', deactivated: 1, employeesFetched: 0 });
    expect(answered.findings.find((f) => f.code === 'deleted_in_personio')?.message).toContain(String(deleted));
    const users = await env().users.list('delta-deleted');
    expect(users).toHaveLength(countBefore);
    expect(users.find((u) => u.personioId === deleted)).toMatchObject({ active: false, deactivationReason: 'not_in_personio' });
    expect(users.filter((u) => u.deactivationReason !== undefined)).toHaveLength(1);
  });

  it('holds webhook deletions over the threshold within an hour, and approving applies exactly them', async () => {
    // Prepare: 28 active users, 20 % allowed; a first delta run deactivates 4 (14 %)
    const { personio, ids } = await importedTenant('delta-mass');
    const first = ids.slice(0, 4);
    const second = ids.slice(4, 7);
    personio.sim.removeEmployees([...first, ...second]);
    env().eventSource.start();
    await deliverChanges(first.map((id) => changeBody('delta-mass', id, 'person.deleted')));
    expect(await latestDeltaReport(env(), 'delta-mass')).toMatchObject({ status: 'completed', deactivated: 4 });

    // Act: 3 more within the hour: 7 of 28 is over 20 %
    await deliverChanges(second.map((id) => changeBody('delta-mass', id, 'person.deleted')));
    const held = await latestDeltaReport(env(), 'delta-mass');

    // Assess: held with its pending list, nobody of it deactivated
    expect(held).toMatchObject({ mode: 'delta', status: 'held', deactivated: 0 });
    expect(held.findings.map((f) => f.code)).toContain('deactivation_held');
    const whileHeld = byPersonioId(await env().users.list('delta-mass'));
    for (const id of second) expect(whileHeld.get(id)?.active, `user ${id}`).toBe(true);

    // Act: the admin approves
    const approved = await call('POST', `/tenants/delta-mass/personio/imports/${held.runId}/approve`);

    // Assess
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'completed', deactivated: 3, mode: 'delta' });
    const after = await env().users.list('delta-mass');
    expect(
      after
        .filter((u) => u.deactivationReason !== undefined)
        .map((u) => u.personioId)
        .sort(),
    ).toEqual([...first, ...second].sort());
  });

  it('does not retire a held full run; approving it afterwards spares exactly the pending users the delta run read, changed or not', async () => {
    // Prepare: a full run against a Personio without 8 of the 28 active employees is held (29 %)
    const { personio, ids } = await importedTenant('delta-held');
    const missing = ids.slice(0, 8);
    const shorter = await startPersonioSim({ employees: 30, seed: 7, credentials: [personio.credential] });
    world.afterTest(() => shorter.close());
    shorter.removeEmployees(missing);
    world.router.add(personio.credential.clientId, shorter);
    clearTokenCache();
    const heldFull = await runImport(env(), 'delta-held');
    expect(heldFull).toMatchObject({ status: 'held', deactivated: 0 });
    await env().eventSource.stop();

    // Act: Personio has them after all; one of them changed, another did not; a delta run re-reads both
    world.router.add(personio.credential.clientId, personio.sim);
    clearTokenCache();
    const [written, unchanged] = missing as [number, number];
    personio.sim.updateEmployee(written, { position: 'Still here' });
    env().eventSource.start();
    await deliverChanges([changeBody('delta-held', written), changeBody('delta-held', unchanged)]);
    const delta = await latestDeltaReport(env(), 'delta-held');
    expect(delta).toMatchObject({ status: 'completed', updated: 1, unchanged: 1 });

    // Assess: the held full run is still approvable, and deactivates its list minus both users the delta run saw in
    // Personio (the unchanged one too: its read moved the user's syncedAt past the full run's start)
    const approved = await call('POST', `/tenants/delta-held/personio/imports/${heldFull.runId}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'completed', deactivated: 6 });
    const after = byPersonioId(await env().users.list('delta-held'));
    expect(after.get(written)).toMatchObject({ active: true, position: 'Still here' });
    expect(after.get(unchanged)?.active).toBe(true);
    for (const id of missing.slice(2)) expect(after.get(id)?.active, `user ${id}`).toBe(false);
  });

  it('keeps a user a delta run wrote after a full run began from that run’s absence deactivation', async () => {
    // Prepare: the full run starts and opens its run, held just before it takes the Personio budget
    const { personio, ids } = await importedTenant('delta-race');
    const person = ids[5] as number;
    const budget = world.restoredAfterTest(
      holdDynamoCall(
        (c) => c.constructor.name === 'UpdateCommand' && c.input['Key'] !== undefined && JSON.stringify(c.input['Key']).includes('budget#personio'),
      ),
    );
    env().eventSource.start();
    const full = runImport(env(), 'delta-race');
    await budget.arrivals(1);

    // Act: the person changes and a delta run writes it; then the person leaves Personio before the full run lists it
    personio.sim.updateEmployee(person, { position: 'Moved on' });
    await deliverChanges([changeBody('delta-race', person)]);
    const delta = await latestDeltaReport(env(), 'delta-race');
    expect(delta).toMatchObject({ status: 'completed', updated: 1 });
    personio.sim.removeEmployees([person]);
    budget.release();
    const fullReport = await full;

    // Assess: the full run did not see the person, yet leaves it active: a newer import wrote it
    expect(fullReport).toMatchObject({ status: 'completed', deactivated: 0 });
    const user = (await env().users.list('delta-race')).find((u) => u.personioId === person);
    expect(user).toMatchObject({ active: true, position: 'Moved on' });
  });

  it('acknowledges changes without a run while the stage’s imports are paused or the tenant is not connected', async () => {
    // Prepare
    const { ids } = await importedTenant('delta-paused');
    const db = createDocumentClient();
    await pauseImports(db, localNames.connectionsTable, { since: new Date(), reason: 'test' });
    world.afterTest(() => resumeImports(db, localNames.connectionsTable));

    // Act
    const paused = await deliverChanges([changeBody('delta-paused', ids[0] as number)]);
    const unknown = await deliverChanges([changeBody('nobody-here', 1)]);

    // Assess
    expect(paused.batchItemFailures).toEqual([]);
    expect(unknown.batchItemFailures).toEqual([]);
    expect(await deltaRuns(env(), 'delta-paused')).toEqual([]);
    expect(await env().runs.list('nobody-here', 5)).toEqual([]);
  });

  it('gives a tenant’s changes back for redelivery when Personio fails, deactivating nobody', async () => {
    // Prepare
    const { personio, ids } = await importedTenant('delta-down');
    personio.sim.setKnobs({ errorRate: 1 });
    world.afterTest(() => personio.sim.setKnobs({ errorRate: 0 }));

    // Act: a short budget, so the client's retries give up
    const answer = await deliverChanges([changeBody('delta-down', ids[0] as number), changeBody('delta-down', ids[1] as number)], 20_000);

    // Assess
    expect(answer.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([...answer.messageIds].sort());
    const [run] = await deltaRuns(env(), 'delta-down');
    expect(run).toMatchObject({ status: 'failed', deactivated: 0 });
    expect(run?.failure?.code).toMatch(/^personio_(unavailable|timeout)$/);
    expect((await env().users.list('delta-down')).filter((u) => u.deactivationReason !== undefined)).toEqual([]);
  }, 60_000);

  it('is settled by the sweeper when it stalls, without touching the tenant’s lock', async () => {
    // Prepare: a delta run whose messages never come (its lease ran out while processing)
    const { ids } = await importedTenant('delta-stall');
    await deliverChanges([changeBody('delta-stall', ids[0] as number)]);
    const [run] = await deltaRuns(env(), 'delta-stall');
    expect(run?.status).toBe('processing');
    await expireLease('delta-stall', run?.runId as string);
    // An accepted "import now" whose fetch has not started holds the tenant: the sweeper must leave that claim alone.
    const claim = { activeRunId: newRunId(new Date()), lockExpiresAt: Date.now() + 5 * 60_000 };
    await setClaim('delta-stall', claim);
    world.afterTest(() => env().connections.releaseRun('delta-stall', claim.activeRunId));

    // Act
    await env().handlers.sweeper();

    // Assess
    const settled = await env().runs.get('delta-stall', run?.runId as string);
    expect(settled).toMatchObject({ status: 'failed', failure: { code: 'run_stalled' } });
    expect(await env().connections.get('delta-stall')).toMatchObject(claim);
    // The worker drains the message later: it applies its data but finishes nothing.
    env().eventSource.start();
    await finalReport(env(), 'delta-stall', run?.runId as string);
    await sleep(100);
    expect((await env().runs.get('delta-stall', run?.runId as string))?.status).toBe('failed');
  });
});
