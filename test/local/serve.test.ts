import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort, listenOn, closeServer } from '../../local/aws/ports.js';
import { isFinalRunStatus } from '../../lib/runs/run.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';

// `npm run serve` as a user runs it: a child process, the contract's ready line, the curl calls of the
// README against it, and a clean stop on SIGTERM.

/** A JSON object as the API answers it; the test reads what the README's calls show. */
type JsonObject = Record<string, unknown>;

interface Served {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The test's environment without a Personio credential a developer may have exported for npm start. */
function cleanEnv(): NodeJS.ProcessEnv {
  const { PERSONIO_CLIENT_ID: _id, PERSONIO_CLIENT_SECRET: _secret, ...rest } = process.env;
  return rest;
}

function serve(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Served {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/serve.ts', ...args], { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function ready(served: Served, line: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!served.output().includes(line)) {
    if (served.child.exitCode !== null) throw new Error(`npm run serve exited (${served.child.exitCode}): ${served.output()}`);
    if (Date.now() > deadline) throw new Error(`npm run serve was not ready in time: ${served.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const json = async (response: Response) => ({ status: response.status, body: (await response.json()) as JsonObject });

/** Dado's backend names the admin behind every change, as it must against the deployed API. */
const ADMIN = { 'X-Dado-Actor': 'admin-7' };

/** Polls the run's report until it is final (30 s at most), as the settings page does. */
async function finalReport(api: string, runId: unknown): Promise<{ status: number; body: JsonObject } | undefined> {
  let report: { status: number; body: JsonObject } | undefined;
  for (let i = 0; i < 150 && !isFinalRunStatus(report?.body['status']); i++) {
    await new Promise((r) => setTimeout(r, 200));
    report = await json(await fetch(`${api}/tenants/acme/personio/imports/${runId}`));
  }
  return report;
}

describe('npm run serve', () => {
  const started: Served[] = [];
  afterAll(() => {
    for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });

  it('serves the connect API on the local stack: connect, status, import now, run report; stops on SIGTERM', async () => {
    // Prepare
    const port = await findFreePort();
    // The webhook route's port too: the default (port + 1) may be another test's.
    const served = serve(['--port', String(port), '--webhook-port', String(await findFreePort()), '--employees', '15']);
    started.push(served);
    await ready(served, `API listening on http://127.0.0.1:${port}\n`);
    const api = `http://127.0.0.1:${port}`;

    // Act
    const anonymous = await json(
      await fetch(`${api}/tenants/acme/personio`, { method: 'PUT', body: JSON.stringify({ clientId: 'sim-client-id', clientSecret: 'sim-client-secret' }) }),
    );
    const connected = await json(
      await fetch(`${api}/tenants/acme/personio`, {
        method: 'PUT',
        headers: ADMIN,
        body: JSON.stringify({ clientId: 'sim-client-id', clientSecret: 'sim-client-secret' }),
      }),
    );
    const status = await json(await fetch(`${api}/tenants/acme/personio`));
    const accepted = await json(await fetch(`${api}/tenants/acme/personio/imports`, { method: 'POST', headers: ADMIN }));
    const report = await finalReport(api, accepted.body['runId']);
    const preview = await json(
      await fetch(`${api}/tenants/acme/personio/mapping?preview=2`, { method: 'PUT', body: JSON.stringify(connected.body['mapping']) }),
    );
    const refused = await json(await fetch(`${api}/tenants/a%2Fb/personio`));
    const audit = await json(await fetch(`${api}/tenants/acme/personio/audit`));

    // Assess
    expect([anonymous.status, (anonymous.body['error'] as JsonObject)['code']]).toEqual([400, 'actor_required']);
    expect([connected.status, connected.body['status']]).toEqual([200, 'connected']);
    expect(connected.body['clientId']).toBe('sim-*****t-id');
    expect(JSON.stringify(connected.body)).not.toContain('sim-client-secret');
    // Serve registers the webhook route with the simulator: the tenant's webhooks are active, so it reconciles daily.
    expect(connected.body['webhooks']).toEqual({ status: 'active', reason: null });
    expect(status.body).toMatchObject({ status: 'connected', schedule: { every: 'daily' }, webhooks: { status: 'active', reason: null } });
    expect(accepted.status).toBe(202);
    expect(report?.body).toMatchObject({ status: 'completed', employeesFetched: 15, created: 15 });
    expect(preview.body).toMatchObject({ saved: false, counts: { unchanged: 2 } });
    expect([refused.status, (refused.body['error'] as JsonObject)['code']]).toEqual([400, 'invalid_tenant_id']);
    expect((audit.body['entries'] as JsonObject[]).map((e) => [e['action'], e['actor']])).toEqual([
      ['import_started', 'admin-7'],
      ['connected', 'admin-7'],
    ]);

    // Act: stop
    served.child.kill('SIGTERM');

    // Assess
    expect(await served.exited).toBe(0);
  }, 90_000);

  it('refuses a port in use at once, before starting the stack', async () => {
    // Prepare
    const blocker = createServer();
    const port = await listenOn(blocker, 0, '127.0.0.1');
    const served = serve(['--port', String(port)]);
    started.push(served);

    // Act
    const code = await served.exited;
    await closeServer(blocker);

    // Assess
    expect(code).toBe(2);
    expect(served.output()).toContain(`Port ${port} is already in use`);
  }, 30_000);

  it('serves another Personio with --personio-url: connect takes its credential in the body, and nothing prints it', async () => {
    // Prepare: a Personio stand-in of its own, with a credential nobody else knows
    const sandbox = { clientId: 'sandbox-client', clientSecret: 'sandbox-secret-4f1c9e' };
    const personio = await startPersonioSim({ employees: 12, seed: 3, credentials: [sandbox] });
    try {
      const port = await findFreePort();
      // Variables exported for npm start must not leak into serve against another Personio.
      const served = serve(['--port', String(port), '--webhook-port', String(await findFreePort()), '--personio-url', personio.url], {
        ...cleanEnv(),
        PERSONIO_CLIENT_ID: 'x',
        PERSONIO_CLIENT_SECRET: 'y',
      });
      started.push(served);
      await ready(served, `API listening on http://127.0.0.1:${port}\n`);
      const api = `http://127.0.0.1:${port}`;

      // Act
      const wrong = await json(
        await fetch(`${api}/tenants/acme/personio`, {
          method: 'PUT',
          headers: ADMIN,
          body: JSON.stringify({ clientId: 'sandbox-client', clientSecret: 'nope' }),
        }),
      );
      const connected = await json(await fetch(`${api}/tenants/acme/personio`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(sandbox) }));
      const accepted = await json(await fetch(`${api}/tenants/acme/personio/imports`, { method: 'POST', headers: ADMIN }));
      const report = await finalReport(api, accepted.body['runId']);
      served.child.kill('SIGTERM');
      const code = await served.exited;

      // Assess
      expect([wrong.status, (wrong.body['error'] as JsonObject)['code']]).toEqual([422, 'invalid_credentials']);
      expect([connected.status, connected.body['status']]).toEqual([200, 'connected']);
      expect(report?.body).toMatchObject({ status: 'completed', employeesFetched: 12 });
      expect(personio.stats().employeeListRequests).toBeGreaterThan(0);
      expect(served.output()).toContain(`Personio at ${personio.url}`);
      expect(served.output()).not.toContain(sandbox.clientSecret);
      expect(code).toBe(0);
    } finally {
      await personio.close();
    }
  }, 90_000);

  it("takes the simulator's credential from the environment and does not print the secret", async () => {
    // Prepare
    const port = await findFreePort();
    const credential = { PERSONIO_CLIENT_ID: 'env-client', PERSONIO_CLIENT_SECRET: 'env-secret-93b2d0' };
    const served = serve(['--port', String(port), '--webhook-port', String(await findFreePort()), '--employees', '5'], { ...cleanEnv(), ...credential });
    started.push(served);
    await ready(served, `API listening on http://127.0.0.1:${port}\n`);
    const api = `http://127.0.0.1:${port}`;

    // Act
    const connect = (clientId: string, clientSecret: string) =>
      fetch(`${api}/tenants/acme/personio`, { method: 'PUT', headers: ADMIN, body: JSON.stringify({ clientId, clientSecret }) }).then((r) => r.status);
    const withDefault = await connect('sim-client-id', 'sim-client-secret');
    const withChosen = await connect(credential.PERSONIO_CLIENT_ID, credential.PERSONIO_CLIENT_SECRET);
    served.child.kill('SIGTERM');
    await served.exited;

    // Assess
    expect([withDefault, withChosen]).toEqual([422, 200]);
    expect(served.output()).toContain('Client ID env-client, the Client Secret you gave');
    expect(served.output()).not.toContain(credential.PERSONIO_CLIENT_SECRET);
  }, 90_000);
});
