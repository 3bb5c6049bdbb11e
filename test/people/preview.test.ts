import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreviewEmployee } from '../../lib/connect/mapping.js';
import { DEFAULT_SIM_CREDENTIAL, startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { apiCaller } from '../helpers/connect-support.js';
import { startPersonioFront, type PersonioFront } from '../helpers/personio-front.js';

/** The mapping preview tells what the next import would do to each user, and why, not only which fields change. */
describe('the mapping preview', () => {
  let env: LocalEnvironment;
  let front: PersonioFront;
  let sim: PersonioSim;
  const call = apiCaller(() => env);

  beforeAll(async () => {
    front = await startPersonioFront();
    sim = await startPersonioSim({ employees: 30, seed: 3 });
    front.upstream = sim.url;
    env = await startLocalEnvironment({ personio: { url: front.url, ...DEFAULT_SIM_CREDENTIAL } });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
    await sim?.close();
    await front?.close();
  });

  /** Personio's list without these employees, its count adjusted: they left. */
  const hide = (ids: number[]) => {
    front.rewrite = (path, body) => {
      if (!path.endsWith('/company/employees')) return undefined;
      const json = JSON.parse(body) as { data: { attributes: { id: { value: number } } }[]; metadata?: { total_elements?: number } };
      json.data = json.data.filter((e) => !ids.includes(e.attributes.id.value));
      if (json.metadata?.total_elements !== undefined) json.metadata.total_elements -= ids.length;
      return JSON.stringify(json);
    };
  };

  it('shows a user who left and came back as reactivated, a leaver as deactivated, and an address held by an active user as refused', async () => {
    // Prepare: one employee leaves Personio and is deactivated by an import; then Personio lists them again, another
    // employee turns inactive, and a third takes an active colleague's address
    const active = sim.employees().filter((e) => e.status === 'active' && e.email);
    const [returning, leaving, taker, holder] = active;
    await connectThroughApi(env, 'preview', env.personio);
    expect(await runImport(env, 'preview', { timeoutMs: 60_000 })).toMatchObject({ status: 'completed' });
    hide([returning!.id]);
    expect(await runImport(env, 'preview', { timeoutMs: 60_000 })).toMatchObject({ status: 'completed', deactivated: 1 });
    expect((await env.users.list('preview')).find((u) => u.personioId === returning!.id)).toMatchObject({
      active: false,
      deactivationReason: 'not_in_personio',
    });
    front.rewrite = undefined;
    sim.updateEmployee(leaving!.id, { status: 'inactive' });
    sim.updateEmployee(taker!.id, { email: holder!.email });
    const { mapping } = (await call('GET', '/tenants/preview/personio')).body;

    // Act
    const preview = await call('PUT', '/tenants/preview/personio/mapping', mapping, 'preview=50');

    // Assess
    expect(preview.status).toBe(200);
    const byId = new Map((preview.body.employees as PreviewEmployee[]).map((e) => [e.personioId, e]));
    expect(byId.get(returning!.id)).toMatchObject({ action: 'reactivate', changes: expect.arrayContaining([{ field: 'active', from: false, to: true }]) });
    expect(byId.get(returning!.id)?.why).toContain('Personio lists the employee again');
    expect(byId.get(leaving!.id)).toMatchObject({ action: 'deactivate' });
    expect(byId.get(leaving!.id)?.why).toContain('inactive');
    // The taker is imported already, so the story is its email change: refused while the holder is active.
    expect(byId.get(taker!.id)?.changes.map((c) => c.field)).not.toContain('email');
    expect(byId.get(taker!.id)?.why).toContain(`active user of Personio employee ${holder!.id}`);
    expect(preview.body.actions).toMatchObject({ reactivate: 1, deactivate: 1 });
    expect(
      preview.body.actions.create +
        preview.body.actions.update +
        preview.body.actions.reactivate +
        preview.body.actions.deactivate +
        preview.body.actions.refuse +
        preview.body.actions.none,
    ).toBe(preview.body.employees.length);
  });
});
