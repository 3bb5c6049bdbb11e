import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import type { RunReport } from '../../lib/runs/run.js';
import type { UserRecord } from '../../lib/users/user.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { apiCaller } from '../helpers/connect-support.js';
import { freshSimulatorBehind, useFrontedEnvironment } from '../helpers/personio-front.js';

const EMPLOYEES = 200;
const SEED = 21;

describe('deactivation and its guard', () => {
  const world = useFrontedEnvironment();
  /** This test's own simulator: the same seeded employees for every test, whatever the others removed. */
  let sim: PersonioSim;
  const extraSims: PersonioSim[] = [];
  const call = apiCaller(() => world.env);

  const freshSim = () => startPersonioSim({ employees: EMPLOYEES, seed: SEED });

  beforeEach(async () => {
    sim = await freshSimulatorBehind(world.front, { employees: EMPLOYEES, seed: SEED });
  });

  afterEach(async () => {
    world.front.upstream = undefined;
    await Promise.all([sim, ...extraSims.splice(0)].map((s) => s.close()));
  });

  const approve = (tenantId: string, runId: string) => call('POST', `/tenants/${tenantId}/personio/imports/${runId}/approve`);
  const byUserId = (users: UserRecord[]) => [...users].sort((a, b) => a.userId.localeCompare(b.userId));

  it('deactivates (never deletes) a few employees who left Personio', async () => {
    // Prepare
    await connectThroughApi(world.env, 'few', world.env.personio);
    expect((await runImport(world.env, 'few')).status).toBe('completed');
    const before = await world.env.users.list('few');
    const leaving = before
      .filter((u) => u.active)
      .slice(0, 5)
      .map((u) => u.personioId);
    expect(leaving).toHaveLength(5);
    sim.removeEmployees(leaving);

    // Act
    const report = await runImport(world.env, 'few');

    // Assess
    expect(report).toMatchObject({ status: 'completed', deactivated: 5 });
    const after = await world.env.users.list('few');
    expect(after).toHaveLength(before.length);
    const gone = after.filter((u) => leaving.includes(u.personioId));
    expect(gone).toHaveLength(5);
    for (const user of gone) expect(user).toMatchObject({ active: false, deactivationReason: 'not_in_personio', deactivatedAt: expect.any(String) });
    const stayed = after.filter((u) => !leaving.includes(u.personioId));
    expect(stayed).toHaveLength(before.length - 5);
    const activeBefore = new Map(before.map((b) => [b.userId, b.active]));
    for (const user of stayed) expect(user.active, `user ${user.personioId}`).toBe(activeBefore.get(user.userId));
  });

  it('holds a run that would deactivate 30 % of active users, deactivates nothing, and applies exactly those on approval', async () => {
    // Prepare
    await connectThroughApi(world.env, 'many', world.env.personio);
    expect((await runImport(world.env, 'many')).status).toBe('completed');
    const before = await world.env.users.list('many');
    const active = before.filter((u) => u.active);
    expect(active.length).toBeGreaterThan(0);
    const vanishing = active.slice(0, Math.ceil(active.length * 0.3)).map((u) => u.personioId);
    sim.removeEmployees(vanishing);

    // Act
    const held = await runImport(world.env, 'many');

    // Assess: held, with a finding that says why, and nobody deactivated
    expect(held.status).toBe('held');
    expect(held.deactivated).toBe(0);
    expect(held.findings.map((f) => f.code)).toContain('deactivation_held');
    expect(byUserId(await world.env.users.list('many'))).toEqual(byUserId(before));

    // Act: an admin approves
    const approved = await approve('many', held.runId);

    // Assess: exactly the vanished users are now inactive
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ runId: held.runId, status: 'completed', deactivated: vanishing.length });
    const after = await world.env.users.list('many');
    expect(
      after
        .filter((u) => !u.active && u.deactivationReason === 'not_in_personio')
        .map((u) => u.personioId)
        .sort(),
    ).toEqual([...vanishing].sort());
    expect(after.filter((u) => u.active)).toHaveLength(active.length - vanishing.length);

    // Act / Assess: approving twice is refused
    const again = await approve('many', held.runId);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_held');
  }, 120_000);

  it('lets a newer run supersede a held one: approving the old one is refused', async () => {
    // Prepare: a complete import, then a glitch in Personio (half its employees missing) holds a run
    await connectThroughApi(world.env, 'glitch', world.env.personio);
    expect((await runImport(world.env, 'glitch')).status).toBe('completed');
    const before = await world.env.users.list('glitch');
    const glitching = await freshSim();
    extraSims.push(glitching);
    const everyone = glitching.employees().map((e) => e.id);
    glitching.removeEmployees(everyone.slice(0, Math.ceil(everyone.length * 0.5)));
    world.front.upstream = glitching.url;
    clearTokenCache();
    const held = await runImport(world.env, 'glitch');
    expect(held.status).toBe('held');

    // Act: Personio is back (the same employees as before the glitch); the schedule's next run is judged on its own
    world.front.upstream = sim.url;
    clearTokenCache();
    const newer: RunReport = await runImport(world.env, 'glitch');
    const refused = await approve('glitch', held.runId);

    // Assess: the newer run completes without an admin and deactivates nobody; the held run's deactivations are dropped
    expect(newer).toMatchObject({ status: 'completed', deactivated: 0 });
    expect(newer.runId).not.toBe(held.runId);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('run_superseded');
    const after = await world.env.users.list('glitch');
    expect(after.filter((u) => u.active)).toHaveLength(before.filter((u) => u.active).length);
    expect(byUserId(after)).toEqual(byUserId(before));
  }, 120_000);

  it('keeps every user’s department when the attribute disappears from Personio, and holds the run', async () => {
    // Prepare
    await connectThroughApi(world.env, 'nodept', world.env.personio);
    expect((await runImport(world.env, 'nodept')).status).toBe('completed');
    const before = await world.env.users.list('nodept');
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((u) => u.department !== null).length).toBeGreaterThan(before.length / 2);
    const readable = Object.keys(sim.employees()[0]!.attributes).filter((k) => k !== 'department');
    sim.setKnobs({ readableAttributes: readable });

    // Act
    const report = await runImport(world.env, 'nodept');

    // Assess
    expect(report.status).toBe('held');
    expect(report.findings.find((f) => f.code === 'field_missing')?.message).toContain('department');
    const after = await world.env.users.list('nodept');
    expect(after.map((u) => [u.userId, u.department]).sort()).toEqual(before.map((u) => [u.userId, u.department]).sort());
    expect(report.updated).toBe(0);
  });

  it('refuses to approve a run that does not exist', async () => {
    // Prepare
    await connectThroughApi(world.env, 'norun', world.env.personio);

    // Act
    const answer = await approve('norun', '20990101T000000Z-00000000');

    // Assess
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('run_not_found');
  });
});
