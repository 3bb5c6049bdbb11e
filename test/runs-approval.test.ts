import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveRun, RunError } from '../lib/runs/approve.js';
import { startLocalEnvironment, type LocalEnvironment } from '../local/runner/environment.js';
import { connectThroughApi, runImport } from '../local/runner/import-run.js';

describe('deactivation and its guard', () => {
  let env: LocalEnvironment;
  const deps = () => ({ runs: env.runs, users: env.users, now: () => new Date(), deactivationThreshold: 0.2 });

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 200, seed: 21 } });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('deactivates (never deletes) a few employees who left Personio', async () => {
    // Prepare
    await connectThroughApi(env, 'few', env.personio);
    await runImport(env, 'few');
    const before = await env.users.list('few');
    const leaving = before.filter((u) => u.active).slice(0, 5).map((u) => u.personioId);
    env.sim!.removeEmployees(leaving);

    // Act
    const report = await runImport(env, 'few');

    // Assess
    expect(report).toMatchObject({ status: 'completed', deactivated: 5 });
    const after = await env.users.list('few');
    expect(after).toHaveLength(before.length);
    const gone = after.filter((u) => leaving.includes(u.personioId));
    expect(gone.every((u) => u.active === false && u.deactivationReason === 'not_in_personio' && typeof u.deactivatedAt === 'string')).toBe(true);
    expect(after.filter((u) => !leaving.includes(u.personioId)).every((u) => u.active === before.find((b) => b.userId === u.userId)!.active)).toBe(true);
  });

  it('holds a run that would deactivate 30 % of active users, deactivates nothing, and applies exactly those on approval', async () => {
    // Prepare
    await connectThroughApi(env, 'many', env.personio);
    await runImport(env, 'many');
    const before = await env.users.list('many');
    const active = before.filter((u) => u.active);
    const vanishing = active.slice(0, Math.ceil(active.length * 0.3)).map((u) => u.personioId);
    env.sim!.removeEmployees(vanishing);

    // Act
    const held = await runImport(env, 'many');

    // Assess: held, with a finding that says why, and nobody deactivated
    expect(held.status).toBe('held');
    expect(held.deactivated).toBe(0);
    expect(held.findings.map((f) => f.code)).toContain('deactivation_held');
    expect((await env.users.list('many')).filter((u) => u.active)).toHaveLength(active.length);

    // Act: an admin approves
    const approved = await approveRun(deps(), 'many', held.runId);

    // Assess: exactly the vanished users are now inactive
    expect(approved).toMatchObject({ status: 'completed', deactivated: vanishing.length });
    const after = await env.users.list('many');
    expect(after.filter((u) => !u.active && u.deactivationReason === 'not_in_personio').map((u) => u.personioId).sort()).toEqual([...vanishing].sort());

    // Act / Assess: approving twice is refused
    await expect(approveRun(deps(), 'many', held.runId)).rejects.toMatchObject({ code: 'run_not_held' });
  }, 120_000);

  it('lets a newer run supersede a held one: approving the old one is refused', async () => {
    // Prepare: a held run, then a newer run that is judged on its own
    await connectThroughApi(env, 'glitch', env.personio);
    await runImport(env, 'glitch');
    const everyone = env.sim!.employees().map((e) => e.id);
    env.sim!.removeEmployees(everyone.slice(0, Math.ceil(everyone.length * 0.5)));
    const held = await runImport(env, 'glitch');
    expect(held.status).toBe('held');
    const newer = await runImport(env, 'glitch');

    // Act
    const error = await approveRun(deps(), 'glitch', held.runId).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RunError);
    expect(error).toMatchObject({ code: 'run_superseded' });
    expect(newer.runId > held.runId).toBe(true);
  }, 120_000);

  it('keeps every user’s department when the attribute disappears from Personio, and holds the run', async () => {
    // Prepare
    await connectThroughApi(env, 'nodept', env.personio);
    await runImport(env, 'nodept');
    const before = await env.users.list('nodept');
    expect(before.filter((u) => u.department !== null).length).toBeGreaterThan(before.length / 2);
    const readable = Object.keys(env.sim!.employees()[0]!.attributes).filter((k) => k !== 'department');
    env.sim!.setKnobs({ readableAttributes: readable });

    // Act
    const report = await runImport(env, 'nodept');
    env.sim!.setKnobs({ readableAttributes: null });

    // Assess
    expect(report.status).toBe('held');
    expect(report.findings.find((f) => f.code === 'field_missing')?.message).toContain('department');
    const after = await env.users.list('nodept');
    expect(after.map((u) => [u.userId, u.department]).sort()).toEqual(before.map((u) => [u.userId, u.department]).sort());
    expect(report.updated).toBe(0);
  });

  it('refuses to approve a run that does not exist', async () => {
    await expect(approveRun(deps(), 'few', '20990101T000000Z-none')).rejects.toMatchObject({ code: 'run_not_found' });
  });
});
