import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { queryByPrefix } from '../../lib/storage/query.js';
import { EventBridgeSchedules } from '../../lib/schedules/eventbridge.js';
import { scheduleName } from '../../lib/schedules/schedules.js';
import { EraseError, eraseTenant, type EraseDeps } from '../../lib/tenants/erase.js';
import { localNames } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { main, readOutputs } from '../../ops/erase-tenant.js';
import { apiCaller } from '../helpers/connect-support.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';
import { fetchAndHold } from '../helpers/queue.js';
import { deliver, useRunsWorld } from '../runs/support.js';

type Item = Record<string, unknown>;

const db = createDocumentClient();
const secrets = new SecretsManagerClient({});

/** The deps ops/erase-tenant.ts wires, on the local stack. */
const eraseDeps = (overrides: Partial<EraseDeps> = {}): EraseDeps => ({
  db,
  tables: { users: localNames.usersTable, connections: localNames.connectionsTable, runs: localNames.runsTable, audit: localNames.auditTable },
  schedules: new EventBridgeSchedules(new SchedulerClient({}), { groupName: localNames.scheduleGroup, roleArn: '', targetArn: '', flexibleWindowMinutes: 0 }),
  secrets,
  secretPrefix: localNames.secretPrefix,
  now: () => new Date(),
  retryBaseMs: 1,
  ...overrides,
});

const partition = (table: string, tenantId: string): Promise<Item[]> => queryByPrefix(db, { tableName: table, tenantId, consistentRead: true });

/** Whether the tenant's secret exists in Secrets Manager (also one scheduled for deletion). */
async function secretExists(tenantId: string): Promise<boolean> {
  try {
    await secrets.send(new DescribeSecretCommand({ SecretId: `${localNames.secretPrefix}${tenantId}` }));
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

describe('erasing a tenant', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);

  /** Everything the product holds about a tenant, read from each store. */
  const holdings = async (tenantId: string) => ({
    users: await partition(localNames.usersTable, tenantId),
    runs: await partition(localNames.runsTable, tenantId),
    audit: await partition(localNames.auditTable, tenantId),
    connection: (await db.send(new GetCommand({ TableName: localNames.connectionsTable, Key: { tenantId }, ConsistentRead: true }))).Item,
    schedule: world.env.stack.scheduler.schedules().find((s) => s.Name === scheduleName(tenantId)),
    secret: await secretExists(tenantId),
  });

  /** Connected, imported (a completed run), and with audit entries of its own. */
  const importedTenant = async (tenantId: string) => {
    const personio = await world.personio(tenantId);
    await personio.connect();
    expect((await runImport(world.env, tenantId, { timeoutMs: 60_000 })).status).toBe('completed');
    await world.env.eventSource.stop();
    for (const [i, action] of ['connected', 'mapping_saved', 'import_started'].entries()) {
      await db.send(
        new PutCommand({
          TableName: localNames.auditTable,
          Item: { tenantId, sk: `2026-12-0${i + 1}T10:00:00.000Z#00000000-0000-4000-8000-00000000000${i}`, action, actor: 'admin@example.com' },
        }),
      );
    }
    return personio;
  };

  it('deletes the tenant’s users, runs, audit entries, connection, schedule and secret, leaves another tenant as it was, and deletes nothing more when run again', async () => {
    // Prepare: two tenants, each connected and imported
    await importedTenant('leaving');
    await importedTenant('staying');
    const leaving = await holdings('leaving');
    const staying = await holdings('staying');
    const userRecords = (items: Item[]) => items.filter((i) => String(i['sk']).startsWith('user#')).length;
    expect(userRecords(leaving.users)).toBeGreaterThan(5);
    expect(leaving.runs.length).toBeGreaterThan(1);
    expect(leaving.audit.length).toBeGreaterThanOrEqual(3);
    expect(leaving.connection).toBeDefined();
    expect(leaving.schedule).toBeDefined();
    expect(leaving.secret).toBe(true);

    // Act
    const report = await eraseTenant(eraseDeps(), 'leaving');

    // Assess: everything of that tenant is gone, counted by kind
    expect(await holdings('leaving')).toEqual({ users: [], runs: [], audit: [], connection: undefined, schedule: undefined, secret: false });
    expect(report).toEqual({
      tenantId: 'leaving',
      users: userRecords(leaving.users),
      userItems: leaving.users.length,
      runs: 1,
      runItems: leaving.runs.length,
      auditEntries: leaving.audit.length,
      connection: 1,
      schedule: 1,
      secret: 1,
      inFlight: [],
    });
    // ... and the other tenant holds exactly what it held, item for item
    expect(await holdings('staying')).toEqual(staying);
    const answer = await call('GET', '/tenants/leaving/personio');
    expect(answer).toMatchObject({ status: 404, body: { error: { code: 'not_connected' } } });

    // Act: erasing again
    const again = await eraseTenant(eraseDeps(), 'leaving');

    // Assess: it succeeds, and there was nothing more to delete
    expect(again).toEqual({
      tenantId: 'leaving',
      users: 0,
      userItems: 0,
      runs: 0,
      runItems: 0,
      auditEntries: 0,
      connection: 0,
      schedule: 0,
      secret: 0,
      inFlight: [],
    });
    expect(await holdings('staying')).toEqual(staying);
  }, 120_000);

  it('refuses while a run of the tenant is in flight and changes nothing; once it has ended, erases', async () => {
    // Prepare: a second import whose messages wait in the queue
    const personio = await importedTenant('busy');
    personio.sim.removeEmployees([personio.sim.employees()[0]!.id]);
    const { runId, messages } = await fetchAndHold(world.env, { tenantId: 'busy' }, { remove: true });
    const before = await holdings('busy');
    expect(before.runs.find((i) => i['runId'] === runId && String(i['sk']).startsWith('run#'))).toMatchObject({ status: 'processing' });

    // Act
    const refused = await eraseTenant(eraseDeps(), 'busy').catch((error: unknown) => error);

    // Assess: refused, naming the run, and nothing was changed (still connected, scheduled, with its secret)
    expect(refused).toBeInstanceOf(EraseError);
    expect(refused).toMatchObject({ code: 'run_in_progress' });
    expect((refused as Error).message).toContain(runId);
    expect(await holdings('busy')).toEqual(before);

    // Act: the run ends; erasing again
    expect((await deliver(world.env, messages))?.batchItemFailures).toEqual([]);
    expect(await world.env.runs.get('busy', runId)).toMatchObject({ status: 'completed', deactivated: 1 });
    const report = await eraseTenant(eraseDeps(), 'busy');

    // Assess
    expect(report).toMatchObject({ runs: 2, connection: 1, schedule: 1, secret: 1, inFlight: [] });
    expect(await holdings('busy')).toEqual({ users: [], runs: [], audit: [], connection: undefined, schedule: undefined, secret: false });
  }, 120_000);

  it('erases a tenant whose run is in flight when forced, reporting the run', async () => {
    // Prepare
    await importedTenant('forced');
    const { runId } = await fetchAndHold(world.env, { tenantId: 'forced' }, { remove: true });

    // Act
    const report = await eraseTenant(eraseDeps(), 'forced', { force: true });

    // Assess
    expect(report.inFlight).toEqual([runId]);
    expect(await holdings('forced')).toEqual({ users: [], runs: [], audit: [], connection: undefined, schedule: undefined, secret: false });
  }, 120_000);

  it('sends again the deletions DynamoDB leaves unprocessed', async () => {
    // Prepare: DynamoDB leaves part of the first three batches unprocessed
    await importedTenant('throttled');
    const users = (await partition(localNames.usersTable, 'throttled')).length;
    const faults = injectDynamoFaults([{ command: 'BatchWrite', table: localNames.usersTable, fault: 'unprocessedItems', count: 3 }]);
    world.afterTest(() => faults.restore());

    // Act
    const report = await eraseTenant(eraseDeps(), 'throttled');

    // Assess
    expect(faults.stats.faults).toHaveLength(3);
    expect(report.userItems).toBe(users);
    expect(await partition(localNames.usersTable, 'throttled')).toEqual([]);
  }, 120_000);

  it('ops/erase-tenant.ts: refuses without a matching --confirm, and erases a disconnected tenant’s secret at once', async () => {
    // Prepare: a tenant that was disconnected (its secret waits out the 7-day recovery window)
    await importedTenant('gone');
    expect((await call('DELETE', '/tenants/gone/personio')).status).toBe(200);
    expect(await secretExists('gone')).toBe(true);
    const before = await holdings('gone');
    // The stack's outputs as `npm run deploy -- --outputs-file` writes them (the local stack's names; prod's region)
    const outputs = join(mkdtempSync(join(tmpdir(), 'erase-')), 'outputs.json');
    writeFileSync(
      outputs,
      JSON.stringify({
        DadoPersonioImport: {
          UsersTableName: localNames.usersTable,
          ConnectionsTableName: localNames.connectionsTable,
          RunsTableName: localNames.runsTable,
          AuditTableName: localNames.auditTable,
          ScheduleGroupName: localNames.scheduleGroup,
          SecretPrefix: localNames.secretPrefix,
          ApiUrl: 'https://example.invalid',
        },
      }),
    );
    const names = ['--stage', 'prod', '--outputs', outputs];
    const output = { out: [] as string[], err: [] as string[] };
    const io = { out: (t: string) => void output.out.push(t), err: (t: string) => void output.err.push(t) };

    // Act / Assess: a mistyped confirmation changes nothing
    expect(await main([...names, '--tenant', 'gone', '--confirm', 'gone2'], io)).toBe(2);
    expect(output.err.join('')).toContain('--confirm');
    expect(await secretExists('gone')).toBe(true);

    // Act
    const code = await main([...names, '--tenant', 'gone', '--confirm', 'gone'], io);

    // Assess: the receipt counts what went; the secret is deleted without waiting for its recovery window
    expect(code).toBe(0);
    expect(JSON.parse(output.out.join(''))).toMatchObject({
      stage: 'prod',
      region: 'eu-central-1',
      tenantId: 'gone',
      userItems: before.users.length,
      runs: 1,
      auditEntries: before.audit.length,
      connection: 1,
      schedule: 0,
      secret: 1,
    });
    expect(await holdings('gone')).toEqual({ users: [], runs: [], audit: [], connection: undefined, schedule: undefined, secret: false });
  }, 120_000);
});

describe('ops/erase-tenant.ts reading the stack outputs', () => {
  it('takes them from CloudFormation’s list and from the CDK outputs file, choosing the stage’s stack', () => {
    // Prepare
    const described = { Stacks: [{ Outputs: [{ OutputKey: 'RunsTableName', OutputValue: 'runs-1' }, { OutputKey: 'Other' }] }] };
    const written = { 'DadoPersonioImport-staging': { RunsTableName: 'runs-s' }, DadoPersonioImport: { RunsTableName: 'runs-p' } };

    // Act / Assess
    expect(readOutputs(described, undefined)).toEqual({ RunsTableName: 'runs-1' });
    expect(readOutputs(described.Stacks[0]?.Outputs, undefined)).toEqual({ RunsTableName: 'runs-1' });
    expect(readOutputs(written, 'DadoPersonioImport')).toEqual({ RunsTableName: 'runs-p' });
    expect(() => readOutputs(written, undefined)).toThrow(/give --stage/);
  });
});
