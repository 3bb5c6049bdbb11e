import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNames } from '../../infra/bundling.js';
import type { RunReport } from '../../lib/runs/run.js';
import type { SweepOutcome } from '../../lib/runs/sweep.js';
import type { UserRecord } from '../../lib/users/user.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { BundledFunctions, UNCAUGHT_MARKER } from '../helpers/bundled-handlers.js';
import { apiCaller, importThroughApi } from '../helpers/connect-support.js';
import { expectedUser } from '../helpers/expected-user.js';
import { describeLeaks, findLeaks } from '../helpers/leak-sweep.js';

const EMPLOYEES = 200;
const TENANT = 'bundled';

/**
 * The same import as test/e2e/import.test.ts, but each handler runs from the bundle `cdk synth` deploys, in a fresh
 * Node process with the deployed function's environment and credentials only in AWS_ACCESS_KEY_ID & co.: a bundling
 * mistake (a dynamic require, a missing module, a side effect tree-shaken away, a credential provider that finds
 * nothing) fails here rather than after a deploy.
 */
describe('an import through the deployed bundles, each in a Node process of its own', () => {
  const bundled = new BundledFunctions();
  const call = apiCaller(() => env);
  let env: LocalEnvironment;
  let first: RunReport;
  let second: RunReport;
  let usersAfterFirst: UserRecord[];

  const byPersonioId = (users: UserRecord[]) => [...users].sort((a, b) => a.personioId - b.personioId);

  beforeAll(async () => {
    // Bundles and synth run while the local stack starts.
    bundled.prepare().catch(() => undefined);
    // With the webhook route and change events on, as npm start runs: every function deployed gets invoked.
    env = await startLocalEnvironment({
      simulator: { employees: EMPLOYEES, seed: 13 },
      loadHandlers: bundled.loadHandlers,
      webhooks: true,
      changeEvents: true,
    });
    await connectThroughApi(env, TENANT, env.personio);
    first = await runImport(env, TENANT, { timeoutMs: 40_000 });
    usersAfterFirst = byPersonioId(await env.users.list(TENANT));
    second = await runImport(env, TENANT, { timeoutMs: 40_000 });
  }, 120_000);

  afterAll(async () => {
    try {
      await env?.stop();
    } finally {
      await bundled.stop();
    }
  });

  it('imports every employee with an email: the report says completed and the users table holds them, field by field', () => {
    // Prepare
    const employees = env.sim!.employees();
    const withEmail = employees.filter((e) => expectedUser(e)['email'] !== null);

    // Assess
    expect(withEmail.length).toBeGreaterThan(EMPLOYEES / 2);
    expect(first).toMatchObject({
      status: 'completed',
      employeesFetched: employees.length,
      created: withEmail.length,
      failed: employees.length - withEmail.length,
    });
    expect(usersAfterFirst.map((u) => u.personioId)).toEqual(withEmail.map((e) => e.id).sort((a, b) => a - b));
    const byId = new Map(usersAfterFirst.map((u) => [u.personioId, u]));
    for (const employee of withEmail) expect(byId.get(employee.id), `employee ${employee.id}`).toMatchObject(expectedUser(employee));
  });

  it('writes nothing when the same data is imported again', async () => {
    // Act
    const usersAfterSecond = byPersonioId(await env.users.list(TENANT));

    // Assess
    expect(second).toMatchObject({ status: 'completed', created: 0, updated: 0, deactivated: 0, unchanged: first.created, dynamoWriteRequests: 0 });
    expect(usersAfterSecond).toEqual(usersAfterFirst);
  });

  it('"import now" through the bundled connect reaches the bundled fetch through the Lambda stand-in, and the run completes', async () => {
    // Prepare
    const fetchInvocations = () => bundled.processes.filter((p) => p.name === 'fetch').reduce((sum, p) => sum + p.invocations, 0);
    const before = fetchInvocations();

    // Act: POST /tenants/{tenantId}/personio/imports answers 202, then the run is followed with GET until final
    const report = await importThroughApi(() => env, call)(TENANT);

    // Assess
    expect(report).toMatchObject({ status: 'completed', employeesFetched: first.employeesFetched, created: 0, updated: 0, unchanged: first.created });
    expect(env.stack.lambda.failures()).toEqual([]);
    expect(env.stack.lambda.calls()['Invoke']).toBe(1);
    expect(fetchInvocations()).toBe(before + 1);
    expect(byPersonioId(await env.users.list(TENANT))).toEqual(usersAfterFirst);
  });

  it('the bundled sweeper settles what is open and returns its outcome', async () => {
    // Prepare: the tenant may still point at its last run, which has finished (the pointer is released lazily)
    const open = (await env.connections.get(TENANT))?.activeRunId === undefined ? 0 : 1;

    // Act
    const outcome: SweepOutcome = await env.handlers.sweeper();

    // Assess: nothing stalled or failed; the tenant is free afterwards
    expect(outcome).toEqual({
      tenants: open,
      failed: 0,
      failures: [],
      settled: { stalled: 0, completed: 0, held: 0 },
      settledDeltas: { stalled: 0, completed: 0, held: 0 },
    });
    expect((await env.connections.get(TENANT))?.activeRunId).toBeUndefined();
  });

  it('a change in Personio reaches the user through the bundled webhook, refresh and worker, and the bundled publisher publishes it', async () => {
    // Prepare
    const id = usersAfterFirst.find((u) => u.active)!.personioId;

    // Act: the simulator delivers the webhook to the local route
    env.sim!.updateEmployee(id, { position: 'Bundled Webhook' });
    const deadline = Date.now() + 60_000;
    let user = (await env.users.list(TENANT)).find((u) => u.personioId === id);
    while (user?.position !== 'Bundled Webhook' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      user = (await env.users.list(TENANT)).find((u) => u.personioId === id);
    }
    const eventDeadline = Date.now() + 30_000;
    const updated = () =>
      env.stack.eventBridge.events().filter((e) => e['detail-type'] === 'User Updated' && (e.detail as { personioId?: number }).personioId === id);
    while (updated().length === 0 && Date.now() < eventDeadline) await new Promise((r) => setTimeout(r, 200));

    // Assess
    expect(user?.position).toBe('Bundled Webhook');
    expect(updated().map((e) => e.detail)).toEqual([expect.objectContaining({ userId: user?.userId, changedFields: ['position'] })]);
    expect((await env.runs.list(TENANT, 20)).find((r) => r.mode === 'delta')).toMatchObject({ status: 'completed', trigger: 'webhook', updated: 1 });
  });

  it('ran each function in a fresh Node process with only its deployed environment, and none had an uncaught error', async () => {
    for (const name of functionNames) {
      // Prepare
      const processes = bundled.processes.filter((p) => p.name === name);
      const given = bundled.environmentOf(name);
      const deployed = await bundled.deployedOf(name);

      // Assess: exactly the variables given (nothing inherited), every one the stack sets, source maps on
      expect(processes.length, name).toBeGreaterThan(0);
      expect(Object.keys(given), name).toEqual(expect.arrayContaining(Object.keys(deployed.variables)));
      expect(given['NODE_OPTIONS'], name).toBe('--enable-source-maps');
      expect(given, name).toMatchObject({
        AWS_ACCESS_KEY_ID: expect.any(String),
        AWS_SECRET_ACCESS_KEY: expect.any(String),
        AWS_SESSION_TOKEN: expect.any(String),
      });
      for (const host of processes) {
        expect(host.ready?.environment, name).toEqual(Object.keys(given).sort());
        expect(host.ready?.sourceMaps, name).toBe(true);
        expect(host.invocations, name).toBeGreaterThan(0);
        expect(host.exit, `${name} process ${host.pid} exited:\n${host.stderr}`).toBeUndefined();
        expect(host.stderr, name).not.toContain(UNCAUGHT_MARKER);
        expect(host.stderr, name).not.toMatch(/^Node\.js v\d+/m);
        expect(describeLeaks(findLeaks(host.stdout + host.stderr)), `${name}'s log lines`).toBe('');
      }
    }
  });
});
