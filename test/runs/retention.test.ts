import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { queryByPrefix } from '../../lib/storage/query.js';
import { defaultMapping } from '../../lib/mapping/mapping.js';
import { newRunId, type RunReport } from '../../lib/runs/run.js';
import { localNames } from '../../local/runner/environment.js';
import { backfillRunExpiry } from '../../ops/backfill-run-expiry.js';
import { runImport } from '../../local/runner/import-run.js';
import { apiCaller } from '../helpers/connect-support.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';
import { useRunsWorld, type TenantPersonio } from './support.js';

// The deployment's retention (RUN_RETENTION_DAYS), read by the handlers when the world loads them.
const DAYS = 90;
process.env['RUN_RETENTION_DAYS'] = String(DAYS);

const DAY_S = 24 * 60 * 60;
const db = createDocumentClient();
type Item = Record<string, unknown>;

/** The tenant's items in the runs table: run records and everything beside them. */
const runItems = (tenantId: string): Promise<Item[]> => queryByPrefix(db, { tableName: localNames.runsTable, tenantId, consistentRead: true });

const ofRun = (items: Item[], runId: string, prefix: string) => items.filter((i) => String(i['sk']).startsWith(prefix) && i['runId'] === runId);
const record = (items: Item[], runId: string) => items.find((i) => i['sk'] === `run#${runId}`);
const seconds = (iso: unknown) => Math.floor(Date.parse(String(iso)) / 1000);
/** A decided run's pending list: its users removed, expiring by `by` (epoch seconds). */
const expectRetired = (chunks: Item[], by: number) => {
  expect(chunks.length).toBeGreaterThan(0);
  for (const chunk of chunks) {
    expect(chunk['users']).toBeUndefined();
    expect(chunk['expiresAt']).toBeLessThanOrEqual(by);
  }
};

/** DynamoDB's TTL as it would stand at `at` (DynamoDB Local runs none): deletes the tenant's items that expired by then. */
async function expireAsOf(tenantId: string, at: number): Promise<number> {
  let deleted = 0;
  for (const item of await runItems(tenantId)) {
    const expiresAt = item['expiresAt'];
    if (typeof expiresAt !== 'number' || expiresAt * 1000 > at) continue;
    await db.send(new DeleteCommand({ TableName: localNames.runsTable, Key: { tenantId, sk: item['sk'] } }));
    deleted++;
  }
  return deleted;
}

describe('how long runs are kept', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);
  const importNow = async (tenantId: string): Promise<RunReport> => {
    const report = await runImport(world.env, tenantId, { timeoutMs: 60_000 });
    await world.env.eventSource.stop();
    return report;
  };
  const approve = (tenantId: string, runId: string) => call('POST', `/tenants/${tenantId}/personio/imports/${runId}/approve`);
  /** Imported once; then a third of the active employees leave Personio, and the next run is held. */
  const heldRun = async (personio: TenantPersonio): Promise<{ held: RunReport; leavers: number[] }> => {
    await personio.connect();
    expect((await importNow(personio.tenantId)).status).toBe('completed');
    const active = (await world.env.users.list(personio.tenantId)).filter((u) => u.active).map((u) => u.personioId);
    const leavers = active.slice(0, Math.ceil(active.length / 3));
    personio.sim.removeEmployees(leavers);
    const held = await importNow(personio.tenantId);
    expect(held).toMatchObject({ status: 'held', deactivated: 0 });
    return { held, leavers };
  };

  it('expires a completed and a failed run the configured days after they finished; their markers go earlier, their progress later', async () => {
    // Prepare
    const personio = await world.personio('kept');
    await personio.connect();

    // Act: a run that completes, then one that fails (Personio refuses the credential)
    const completed = await importNow('kept');
    world.restoredAfterTest(personio).revoke();
    const failed = await importNow('kept');

    // Assess
    expect(completed.status).toBe('completed');
    expect(failed.status).toBe('failed');
    const items = await runItems('kept');
    for (const run of [completed, failed]) expect(record(items, run.runId)?.['expiresAt']).toBe(seconds(run.finishedAt) + DAYS * DAY_S);
    const runExpiry = Number(record(items, completed.runId)?.['expiresAt']);
    const markers = ofRun(items, completed.runId, 'msg#');
    expect(markers.length).toBeGreaterThan(0);
    for (const marker of markers) expect(marker['expiresAt']).toBeLessThan(runExpiry);
    const progress = items.find((i) => i['sk'] === `prog#${completed.runId}`);
    expect(progress?.['expiresAt']).toBeGreaterThan(runExpiry);
  });

  it('keeps a held run and its pending deactivations for as long as nobody decides; once approved, the run expires from then and the list is emptied', async () => {
    // Prepare
    const personio = await world.personio('waiting');
    const { held, leavers } = await heldRun(personio);
    const items = await runItems('waiting');
    expect(record(items, held.runId)?.['expiresAt']).toBeUndefined();
    const pending = ofRun(items, held.runId, 'pend#');
    expect(pending.length).toBeGreaterThan(0);
    for (const chunk of pending) expect(chunk['expiresAt']).toBeUndefined();

    // Act: two years on, DynamoDB's TTL has removed whatever had expired by then; then an admin approves
    const activeBefore = (await world.env.users.list('waiting')).filter((u) => u.active).map((u) => u.personioId);
    await expireAsOf('waiting', Date.now() + 2 * 365 * DAY_S * 1000);
    const before = Math.floor(Date.now() / 1000);
    // The product's roles may not delete an item (infra/grants.ts): what follows must not try (DynamoDB Local would let it)
    const calls = injectDynamoFaults([]);
    world.afterTest(() => calls.restore());
    const approved = await approve('waiting', held.runId);
    const after = Math.floor(Date.now() / 1000);
    calls.restore();

    // Assess: the held run was all there: exactly the leavers are deactivated
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'completed', deactivated: leavers.length });
    const activeAfter = new Set((await world.env.users.list('waiting')).filter((u) => u.active).map((u) => u.personioId));
    expect(activeBefore.filter((id) => !activeAfter.has(id)).sort()).toEqual([...leavers].sort());
    // ... and now it is decided: it expires the configured days after the approval, and its pending list is emptied
    // and expires at once; nothing was deleted
    const decided = await runItems('waiting');
    const expiresAt = Number(record(decided, held.runId)?.['expiresAt']);
    expect(expiresAt).toBeGreaterThanOrEqual(before + DAYS * DAY_S);
    expect(expiresAt).toBeLessThanOrEqual(after + DAYS * DAY_S);
    expectRetired(ofRun(decided, held.runId, 'pend#'), after);
    expect(Object.keys(calls.stats.calls).filter((operation) => /Delete|BatchWrite/.test(operation))).toEqual([]);
  });

  it('starts expiring a held run once a newer run supersedes it: its pending list is emptied, and approving it answers 409', async () => {
    // Prepare: a run held because a mapped field vanished from Personio (nobody to deactivate: an empty pending list)
    const personio = await world.personio('moved-on');
    await personio.connect();
    expect((await importNow('moved-on')).status).toBe('completed');
    const readable = Object.keys(personio.sim.employees()[0]!.attributes).filter((k) => k !== 'department');
    personio.sim.setKnobs({ readableAttributes: readable });
    const held = await importNow('moved-on');
    expect(held).toMatchObject({ status: 'held' });
    expect(ofRun(await runItems('moved-on'), held.runId, 'pend#')).toHaveLength(1);

    // Act: Personio is back; the next run completes
    personio.sim.setKnobs({ readableAttributes: null });
    const before = Math.floor(Date.now() / 1000);
    // As above: no deletes
    const calls = injectDynamoFaults([]);
    world.afterTest(() => calls.restore());
    const newer = await importNow('moved-on');
    const after = Math.floor(Date.now() / 1000);
    calls.restore();

    // Assess
    expect(newer.status).toBe('completed');
    const items = await runItems('moved-on');
    const expiresAt = Number(record(items, held.runId)?.['expiresAt']);
    expect(expiresAt).toBeGreaterThanOrEqual(before + DAYS * DAY_S);
    expect(expiresAt).toBeLessThanOrEqual(after + DAYS * DAY_S);
    expect(record(items, held.runId)?.['status']).toBe('held');
    expectRetired(ofRun(items, held.runId, 'pend#'), after);
    expect(Object.keys(calls.stats.calls).filter((operation) => /Delete|BatchWrite/.test(operation))).toEqual([]);
    const refused = await approve('moved-on', held.runId);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'run_superseded' } } });
  });

  it("keeps a held run's pending list while a newer run is still going: if that run fails before processing anyone, approval deactivates exactly the list", async () => {
    // Prepare: a held run, then a newer run that has started but not yet processed anyone
    const personio = await world.personio('still-going');
    const { held, leavers } = await heldRun(personio);
    const newerId = newRunId(new Date(Date.now() + 1_000));
    await world.env.runs.create({
      tenantId: 'still-going',
      runId: newerId,
      mode: 'full',
      trigger: 'test',
      mapping: defaultMapping(),
      startedAt: new Date(Date.now() + 1_000),
      leaseExpiresAt: Date.now() + 60 * 60_000,
    });

    // Act: approving now is refused; then the newer run fails on Personio before any employee; the admin approves again
    const early = await approve('still-going', held.runId);
    const kept = ofRun(await runItems('still-going'), held.runId, 'pend#');
    await world.env.runs.fail('still-going', newerId, { code: 'personio_unavailable', message: 'Personio answered 503.' }, {}, new Date());
    const activeBefore = (await world.env.users.list('still-going')).filter((u) => u.active).map((u) => u.personioId);
    const approved = await approve('still-going', held.runId);

    // Assess: the early refusal left the list whole; the approval applied all of it
    expect(early).toMatchObject({ status: 409, body: { error: { code: 'run_superseded' } } });
    expect(kept.flatMap((chunk) => (chunk['users'] as unknown[] | undefined) ?? [])).toHaveLength(leavers.length);
    expect(approved.body).toMatchObject({ status: 'completed', deactivated: leavers.length });
    const activeAfter = new Set((await world.env.users.list('still-going')).filter((u) => u.active).map((u) => u.personioId));
    expect(activeBefore.filter((id) => !activeAfter.has(id)).sort()).toEqual([...leavers].sort());
  });

  it('gives the items of runs from before runs expired what the release sets, once (ops/backfill-run-expiry.ts)', async () => {
    // Prepare: a completed run, a held run that was approved, and a held run waiting
    const personio = await world.personio('legacy');
    const { held: approved } = await heldRun(personio);
    expect((await approve('legacy', approved.runId)).status).toBe(200);
    const active = (await world.env.users.list('legacy')).filter((u) => u.active).map((u) => u.personioId);
    personio.sim.removeEmployees(active.slice(0, Math.ceil(active.length / 3)));
    const waiting = await importNow('legacy');
    expect(waiting.status).toBe('held');
    // ... as the release before left them: no expiry on run records and progress, the approved run's pending list
    // kept, and no (empty) list for a held run
    for (const item of await runItems('legacy')) {
      const sk = String(item['sk']);
      if (sk.startsWith('run#') || sk.startsWith('prog#'))
        await db.send(new UpdateCommand({ TableName: localNames.runsTable, Key: { tenantId: 'legacy', sk }, UpdateExpression: 'REMOVE expiresAt' }));
      if (sk.startsWith(`pend#${waiting.runId}`)) await db.send(new DeleteCommand({ TableName: localNames.runsTable, Key: { tenantId: 'legacy', sk } }));
    }
    await world.env.runs.savePending('legacy', approved.runId, [{ userId: 'u-1', contentHash: 'h' }]);
    const before = await runItems('legacy');
    const runs = before.filter((i) => String(i['sk']).startsWith('run#'));
    expect(runs.map((r) => r['status'])).toEqual(['completed', 'completed', 'held']);
    const backfill = () => backfillRunExpiry({ db, tableName: localNames.runsTable, retentionDays: DAYS, now: () => new Date(), segments: 2 });

    // Act
    const started = Math.floor(Date.now() / 1000);
    const outcome = await backfill();

    // Assess: final runs expire the configured days after they finished; the held one does not, and is findable
    expect(outcome).toEqual({ runsExpiring: 2, progressExpiring: 3, pendingListsRetired: 1, heldRunsIndexed: 1 });
    const after = await runItems('legacy');
    for (const run of runs.filter((r) => r['status'] === 'completed'))
      expect(record(after, String(run['runId']))?.['expiresAt']).toBe(seconds(run['finishedAt']) + DAYS * DAY_S);
    expect(record(after, waiting.runId)?.['expiresAt']).toBeUndefined();
    expect(ofRun(after, waiting.runId, 'pend#')).toEqual([expect.objectContaining({ users: [] })]);
    expectRetired(ofRun(after, approved.runId, 'pend#'), Math.floor(Date.now() / 1000));
    for (const progress of after.filter((i) => String(i['sk']).startsWith('prog#')))
      expect(progress['expiresAt']).toBeGreaterThanOrEqual(started + (DAYS + 30) * DAY_S);

    // Act / Assess: a second pass finds nothing to do
    expect(await backfill()).toEqual({ runsExpiring: 0, progressExpiring: 0, pendingListsRetired: 0, heldRunsIndexed: 0 });
  });
});
