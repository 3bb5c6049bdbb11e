import { describe, expect, it } from 'vitest';
import type { Mapping } from '../../lib/mapping/mapping.js';
import type { RunReport } from '../../lib/runs/run.js';
import { localNames } from '../../local/runner/environment.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { apiCaller } from '../helpers/connect-support.js';
import { lambdaContext } from '../helpers/events.js';
import { holdDynamoCall, useRunsWorld } from './support.js';

/**
 * Issue 11, item 7: connection state is exact. A successful import clears `invalid_credentials`; no status write
 * overwrites `disconnected`; mapping saves and attribute refreshes change only what they change, and a lost race
 * answers 409 `conflict` instead of silently writing back a stale copy of the connection.
 */
describe('connection state', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);

  const importAll = async (tenantId: string): Promise<RunReport> => {
    const done = await runImport(world.env, tenantId, { timeoutMs: 60_000 });
    await world.env.eventSource.stop();
    return done;
  };
  const connection = async (tenantId: string) => {
    const answer = await call('GET', `/tenants/${tenantId}/personio`);
    expect(answer.status).toBe(200);
    return answer.body as { status: string; mapping: Mapping };
  };
  const saveMapping = (tenantId: string, mapping: Mapping) => call('PUT', `/tenants/${tenantId}/personio/mapping`, mapping);
  /** The connection write that follows a read: the settings update of the tenant whose expression sets `attribute`. */
  const settingsWrite = (tenantId: string, attribute: string) => (command: { constructor: { name: string }; input: Record<string, unknown> }) =>
    command.constructor.name === 'UpdateCommand' &&
    command.input['TableName'] === localNames.connectionsTable &&
    (command.input['Key'] as { tenantId?: string } | undefined)?.tenantId === tenantId &&
    new RegExp(`\\b${attribute}\\b`).test(String(command.input['UpdateExpression'] ?? '') + JSON.stringify(command.input['ExpressionAttributeNames'] ?? {}));

  it('sets a tenant that was invalid_credentials back to connected once an import succeeds', async () => {
    // Prepare: the credential is revoked in Personio, so an import fails and the tenant is marked invalid_credentials
    const personio = await world.personio('revived');
    await personio.connect();
    personio.revoke();
    const refused = await importAll('revived');
    expect(refused).toMatchObject({ status: 'failed', findings: [{ code: 'personio_invalid_credentials' }] });
    expect((await connection('revived')).status).toBe('invalid_credentials');
    // The admin re-enables the credential in Personio
    personio.restore();

    // Act
    const next = await importAll('revived');

    // Assess
    expect(next.status).toBe('completed');
    expect((await connection('revived')).status).toBe('connected');
  });

  it('keeps a tenant disconnected when its running fetch gets a 401 afterwards', async () => {
    // Prepare: a fetch is waiting for Personio's first page
    const personio = await world.personio('left', { employees: 150 });
    await personio.connect();
    personio.gate.close();
    const fetching = world.env.handlers.fetch({ tenantId: 'left' }, lambdaContext('personio-fetch', 60_000));
    expect(await personio.gate.waitHeld(1, 30_000)).toBe(true);

    // Act: the admin disconnects and revokes the credential in Personio; the fetch's page and its re-authentication are refused
    const disconnected = await call('DELETE', '/tenants/left/personio');
    personio.revoke();
    const outcome = await fetching;

    // Assess
    expect(disconnected.status).toBe(200);
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'personio_invalid_credentials' } });
    expect((await connection('left')).status).toBe('disconnected');
  });

  it('keeps a tenant that reconnected with a new credential connected when a fetch with the old one is refused afterwards', async () => {
    // Prepare: Personio knows two credentials of the tenant; a fetch with the first waits for its first page
    const [oldCredential, newCredential] = [1, 2].map((n) => ({
      clientId: `rotated-client-${n}`,
      clientSecret: `rotated-secret-${n}-${Math.random().toString(36).slice(2, 10)}`,
    }));
    const sim = await startPersonioSim({ employees: 150, seed: 7, credentials: [oldCredential!, newCredential!] });
    try {
      const oldGate = world.router.add(oldCredential!.clientId, sim);
      world.router.add(newCredential!.clientId, sim);
      await connectThroughApi(world.env, 'rotated', { url: world.router.url, ...oldCredential! });
      oldGate.close();
      const fetching = world.env.handlers.fetch({ tenantId: 'rotated' }, lambdaContext('personio-fetch', 60_000));
      expect(await oldGate.waitHeld(1, 30_000)).toBe(true);

      // Act: the admin rotates: connects the new credential, and revokes the old one in Personio
      await connectThroughApi(world.env, 'rotated', { url: world.router.url, ...newCredential! });
      world.router.remove(oldCredential!.clientId);
      const outcome = await fetching;

      // Assess: the old credential's refusal says nothing about the stored one
      expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'personio_invalid_credentials' } });
      expect((await connection('rotated')).status).toBe('connected');
    } finally {
      world.router.remove(newCredential!.clientId);
      await sim.close();
    }
  });

  describe('a mapping save', () => {
    it('that lost a race with another save answers 409 conflict, and the other save stays stored', async () => {
      // Prepare: two admins read the same connection; one drops the position, the other the department
      const personio = await world.personio('two-admins');
      await personio.connect();
      const { mapping } = await connection('two-admins');
      expect(mapping.fields.position).not.toBeNull();
      const first: Mapping = { ...mapping, fields: { ...mapping.fields, position: null } };
      const second: Mapping = { ...mapping, fields: { ...mapping.fields, department: null } };
      const hold = world.restoredAfterTest(holdDynamoCall(settingsWrite('two-admins', 'mapping')));

      // Act: the first save has read the connection and is about to write when the second save goes through
      const firstSave = saveMapping('two-admins', first);
      await hold.arrivals(1);
      const secondSave = await saveMapping('two-admins', second);
      hold.release();
      const firstAnswer = await firstSave;

      // Assess
      expect(secondSave.status).toBe(200);
      expect(firstAnswer.status).toBe(409);
      expect(firstAnswer.body.error).toMatchObject({ code: 'conflict' });
      expect((await connection('two-admins')).mapping).toEqual(second);
    });

    it('that read the connection before a disconnect answers 409 conflict and leaves the tenant disconnected with its mapping', async () => {
      // Prepare
      const personio = await world.personio('saved-late');
      await personio.connect();
      const { mapping } = await connection('saved-late');
      const hold = world.restoredAfterTest(holdDynamoCall(settingsWrite('saved-late', 'mapping')));

      // Act: the save has read the connection when the admin disconnects
      const save = saveMapping('saved-late', { ...mapping, fields: { ...mapping.fields, office: null } });
      await hold.arrivals(1);
      const disconnected = await call('DELETE', '/tenants/saved-late/personio');
      hold.release();
      const saved = await save;

      // Assess
      expect(disconnected.status).toBe(200);
      expect(saved.status).toBe(409);
      expect(saved.body.error).toMatchObject({ code: 'conflict' });
      expect(await connection('saved-late')).toMatchObject({ status: 'disconnected', mapping });
    });
  });

  it('keeps a mapping saved while an attribute refresh was under way, and answers the refresh 409 conflict', async () => {
    // Prepare: at connect the credential could not read one attribute; since then the admin enabled it in Personio
    const personio = await world.personio('refresh');
    const keys = [...new Set(personio.sim.employees().flatMap((e) => Object.keys(e.attributes)))];
    const enabledLater = keys.find((k) => k.startsWith('dynamic_'));
    expect(enabledLater).toBeDefined();
    personio.sim.setKnobs({ readableAttributes: keys.filter((k) => k !== enabledLater) });
    await personio.connect();
    personio.sim.setKnobs({ readableAttributes: null });
    const { mapping } = await connection('refresh');
    const saved: Mapping = { ...mapping, fields: { ...mapping.fields, team: null } };
    const hold = world.restoredAfterTest(holdDynamoCall(settingsWrite('refresh', 'readableAttributes')));

    // Act: the refresh has read the connection and Personio, and is about to store the readable attributes, when a mapping is saved
    const refreshing = call('GET', '/tenants/refresh/personio/attributes');
    await hold.arrivals(1);
    const save = await saveMapping('refresh', saved);
    hold.release();
    const refreshed = await refreshing;

    // Assess: the save is kept; the refresh lost the race and says so
    expect(save.status).toBe(200);
    expect(refreshed.status).toBe(409);
    expect(refreshed.body.error).toMatchObject({ code: 'conflict' });
    expect((await connection('refresh')).mapping).toEqual(saved);
  });
});
