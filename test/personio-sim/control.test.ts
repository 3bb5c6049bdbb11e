import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { type Page, call, authenticate, get, value } from './support.js';

/** The simulator's HTTP control endpoints and its CLI (npm run personio-sim). */

describe('HTTP control endpoints', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 10, seed: 9 });
  });
  afterAll(() => sim.close());

  const post = (path: string, body?: unknown) =>
    call(`${sim.url}/__sim/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('reads and resets stats without counting themselves', async () => {
    // Prepare
    await authenticate(sim);

    // Act
    const stats = await call<{ requests: number; authCalls: number }>(`${sim.url}/__sim/stats`);
    const reset = await post('reset');
    const after = await call<{ requests: number }>(`${sim.url}/__sim/stats`);

    // Assess
    expect(stats.body).toMatchObject({ requests: 1, authCalls: 1 });
    expect(reset.status).toBe(200);
    expect(after.body.requests).toBe(0);
  });

  it('validates and applies knobs', async () => {
    // Act
    const applied = await post('knobs', { errorRate: 0.5, retryAfterSeconds: 2 });
    const outOfRange = await post('knobs', { errorRate: 2 });
    const unknown = await post('knobs', { errorrate: 0.1 });
    const notJson = await call(`${sim.url}/__sim/knobs`, { method: 'POST', body: '{nope' });

    // Assess
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ errorRate: 0.5, retryAfterSeconds: 2, employeesPerSecond: 15 });
    expect(sim.knobs().errorRate).toBe(0.5);
    expect([outOfRange.status, unknown.status, notJson.status]).toEqual([400, 400, 400]);
    expect(sim.knobs().errorRate).toBe(0.5);
    sim.setKnobs({ errorRate: 0, retryAfterSeconds: null });
  });

  it('lists, adds, updates and removes employees', async () => {
    // Act
    const listed = await call<{ id: number; email: string | null; status: string; attributes: Record<string, unknown> }[]>(`${sim.url}/__sim/employees`);
    const added = await post('employees', { add: 2 });
    const updated = await post('employees', { update: { id: listed.body[0]?.id, changes: { first_name: 'Zoë' } } });
    const removed = await post('employees', { remove: [listed.body[1]?.id] });
    const missing = await post('employees', { update: { id: 1, changes: {} } });
    const invalid = await post('employees', { add: -1 });

    // Assess
    expect(listed.body).toHaveLength(10);
    expect(added.body).toEqual({ ids: expect.any(Array) });
    expect((added.body as { ids: number[] }).ids).toHaveLength(2);
    expect(updated.status).toBe(200);
    expect(removed.status).toBe(200);
    expect(missing.status).toBe(404);
    expect(invalid.status).toBe(400);
    const now = sim.employees();
    expect(now).toHaveLength(11);
    expect(value(now[0]!, 'first_name')).toBe('Zoë');
    expect(now.some((e) => e.id === listed.body[1]?.id)).toBe(false);
  });

  it('revokes tokens', async () => {
    // Prepare
    const token = await authenticate(sim);

    // Act
    const revoked = await post('revoke-tokens');
    const answer = await get(sim, '/v1/company/employees', token);

    // Assess
    expect(revoked.status).toBe(200);
    expect(answer.status).toBe(403);
  });
});

describe('npm run personio-sim (CLI)', () => {
  /** npx may exit before the simulator under it has closed its port, so poll briefly. */
  async function stopsListening(url: string): Promise<boolean> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        await fetch(`${url}/__sim/stats`);
      } catch {
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  function runCli(args: string[]) {
    // Own process group, so the whole npx → tsx → node chain can be stopped together.
    const child = spawn('npx', ['tsx', 'local/personio-sim/cli.ts', ...args], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return { child, output: () => ({ stdout, stderr }) };
  }

  it('prints the listening line, serves Personio, and stops on SIGTERM', async () => {
    // Prepare
    const { child, output } = runCli(['--port', '0', '--employees', '50', '--client-id', 'cli-id', '--client-secret', 'cli-secret']);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${JSON.stringify(output())}`)), 15_000);
        child.stdout.on('data', () => {
          const match = /^Personio simulator listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(output().stdout);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
      });

      // Act
      const auth = await call<{ data: { token: string } }>(`${url}/v1/auth`, {
        method: 'POST',
        body: JSON.stringify({ client_id: 'cli-id', client_secret: 'cli-secret' }),
      });
      const page = await call<Page>(`${url}/v1/company/employees?limit=100`, { headers: { authorization: `Bearer ${auth.body.data.token}` } });
      process.kill(-(child.pid ?? 0), 'SIGTERM');
      await once(child, 'exit');

      // Assess
      expect(page.body.metadata.total_elements).toBe(50);
      expect(await stopsListening(url)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
    }
  });

  it.each([
    [['--bogus'], /bogus/],
    [['--employees', 'lots'], /--employees/],
    [['--error-rate', '2'], /--error-rate/],
  ])('exits 2 with a message for %j', async (args, message) => {
    // Act
    const { child, output } = runCli(args);
    const [code] = (await once(child, 'exit')) as [number | null];

    // Assess
    expect(code).toBe(2);
    expect(output().stderr).toMatch(message);
    expect(output().stderr).toContain('Usage:');
  });
});
