import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import type { PersonioSim } from '../../local/personio-sim/index.js';
import { localNames } from '../../local/runner/environment.js';
import { activeWithEmail, connect, finding, importAll, saveMapping, startPeopleWorld, usersByPersonioId, type PeopleWorld } from './support.js';

/**
 * Personio's status is the leaver signal (DESIGN §3 "Employees' state", issue 12), end to end on the local stack:
 * whenever Personio sends it, it decides `active`, whether or not the tenant imports the status field; a credential
 * that cannot read it is refused at connect, and a tenant whose credential loses it gets held runs instead of a silent
 * import; a status Personio does not define is reported in the run and changes nothing.
 */
describe('status: the leaver signal', () => {
  let world: PeopleWorld;
  let sim: PersonioSim;
  const secrets = new SecretsManagerClient({});

  beforeAll(async () => {
    world = await startPeopleWorld();
  }, 60_000);

  afterAll(async () => {
    await world?.stop();
  });

  /** Every attribute the simulator knows except status. */
  const allButStatus = () => Object.keys(sim.employees()[0]!.attributes).filter((k) => k !== 'status');

  /** The error Secrets Manager answers for the tenant's secret (undefined if it has one). */
  async function secretError(tenantId: string): Promise<unknown> {
    try {
      await secrets.send(new GetSecretValueCommand({ SecretId: `${localNames.secretPrefix}${tenantId}` }));
      return undefined;
    } catch (error) {
      return error;
    }
  }

  it('deactivates a leaver whose status turns inactive although the status field is not imported, and never writes status', async () => {
    // Prepare: the admin unmaps Status; the first import
    sim = await world.freshPersonio();
    await connect(world, 'unmapped-leaver');
    const mapping = await saveMapping(world, 'unmapped-leaver', { status: null });
    expect(mapping.fields.status).toBeNull();
    const first = await importAll(world, 'unmapped-leaver');
    expect(first.status).toBe('completed');
    const leaver = activeWithEmail(sim).find((e) => e.status === 'active')!;
    expect((await usersByPersonioId(world, 'unmapped-leaver')).get(leaver.id)).toMatchObject({ active: true, status: null });

    // Act: the employee leaves; Personio keeps them in the list as inactive
    sim.updateEmployee(leaver.id, { status: 'inactive' });
    const second = await importAll(world, 'unmapped-leaver');

    // Assess: inactive, still without a status; every other user follows Personio's status, none has one written
    const users = await usersByPersonioId(world, 'unmapped-leaver');
    expect(users.get(leaver.id)).toMatchObject({ active: false, status: null });
    expect(second).toMatchObject({ status: 'completed', updated: 1, deactivated: 0 });
    for (const e of sim.employees().filter((e) => users.has(e.id))) {
      expect(users.get(e.id), `employee ${e.id}`).toMatchObject({ active: e.status !== 'inactive', status: null });
    }
    expect(sim.employees().some((e) => e.status === 'inactive' && e.id !== leaver.id && users.has(e.id))).toBe(true);
  });

  it('refuses to connect a credential that cannot read status, says where to enable it, and stores nothing', async () => {
    // Prepare
    sim = await world.freshPersonio();
    sim.setKnobs({ readableAttributes: allButStatus() });

    // Act
    const answer = await world.call('PUT', '/tenants/no-status/personio', { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' });

    // Assess: 422 with Personio's menu path; no connection row, no secret
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('status_not_readable');
    expect(answer.body.error.message).toContain('Settings → Integrations → API credentials');
    expect(answer.body.error.message).toMatch(/Status/);
    expect(answer.raw).not.toContain('sim-client-secret');
    expect(await world.env.connections.get('no-status')).toBeUndefined();
    const error = await secretError('no-status');
    expect(error).toBeInstanceOf(ResourceNotFoundException);
  });

  describe.each([
    ['imported', {}],
    ['not imported', { status: null }],
  ] as const)('a connected tenant whose credential loses status (status field %s)', (_label, fields) => {
    it('holds its next run with a status_not_readable finding and deactivates nobody', async () => {
      // Prepare: connected and imported with a credential that read status
      sim = await world.freshPersonio();
      const tenant = `lost-status-${Object.keys(fields).length}`;
      await connect(world, tenant);
      await saveMapping(world, tenant, fields);
      expect((await importAll(world, tenant)).status).toBe('completed');
      const before = await usersByPersonioId(world, tenant);
      // In Personio meanwhile: one employee leaves the list, another becomes inactive; and the credential loses status
      const [gone, leaver] = activeWithEmail(sim);
      sim.removeEmployees([gone!.id]);
      sim.updateEmployee(leaver!.id, { status: 'inactive' });
      sim.setKnobs({ readableAttributes: allButStatus() });
      clearTokenCache();

      // Act
      const report = await importAll(world, tenant);

      // Assess: held, told why and where to fix it; nobody deactivated; every user as it was
      expect(report).toMatchObject({ status: 'held', deactivated: 0 });
      expect(finding(report, 'status_not_readable'), 'a status_not_readable finding').toBeDefined();
      expect(finding(report, 'status_not_readable')?.message).toContain('Settings → Integrations → API credentials');
      const after = await usersByPersonioId(world, tenant);
      expect(after.get(gone!.id)).toMatchObject({ active: true });
      expect(after.get(gone!.id)?.deactivatedAt ?? null).toBeNull();
      expect(after.get(leaver!.id)).toMatchObject({ active: true });
      for (const [id, user] of before) expect(after.get(id)?.active, `user of ${id}`).toBe(user.active);
    });
  });

  it('reports an unknown status in the run when the status field is not imported, naming the Personio ids, and leaves active as it was', async () => {
    // Prepare: status not imported; a new hire already 'terminated' on the first import
    sim = await world.freshPersonio();
    await connect(world, 'odd-status');
    await saveMapping(world, 'odd-status', { status: null });
    const [present, leaver, hire] = activeWithEmail(sim);
    sim.updateEmployee(leaver!.id, { status: 'inactive' });
    const odd = new Set([hire!.id]);
    world.front.rewrite = (path, body) => {
      if (!path.endsWith('/company/employees')) return undefined;
      const json = JSON.parse(body) as { data: { attributes: Record<string, { value: unknown }> }[] };
      for (const e of json.data) if (odd.has(e.attributes['id']?.value as number) && e.attributes['status']) e.attributes['status'].value = 'terminated';
      return JSON.stringify(json);
    };
    const first = await importAll(world, 'odd-status');
    expect(first.status).toBe('completed');
    expect(finding(first, 'values_unreadable_value'), "the first run's values_unreadable_value finding").toBeDefined();
    expect(finding(first, 'values_unreadable_value')?.message).toMatch(new RegExp(`\\b${hire!.id}\\b`));

    // Act: an active employee and an inactive one get the unknown status too
    odd.add(present!.id);
    odd.add(leaver!.id);
    const report = await importAll(world, 'odd-status');

    // Assess: completed; one finding naming the three and the attribute, never the value; active as it was
    expect(report.status).toBe('completed');
    const unreadable = finding(report, 'values_unreadable_value');
    expect(unreadable, 'a values_unreadable_value finding').toBeDefined();
    expect(unreadable?.message).toMatch(/\bstatus\b/);
    for (const id of odd) expect(unreadable?.message).toMatch(new RegExp(`\\b${id}\\b`));
    expect(JSON.stringify(report)).not.toContain('terminated');
    const users = await usersByPersonioId(world, 'odd-status');
    expect(users.get(hire!.id)).toMatchObject({ active: true, status: null });
    expect(users.get(present!.id)).toMatchObject({ active: true, status: null });
    expect(users.get(leaver!.id)).toMatchObject({ active: false, status: null });
  });
});
