import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMapping } from '../../lib/mapping/mapping.js';
import type { RunReport } from '../../lib/runs/run.js';
import type { UserRecord } from '../../lib/users/user.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';

/**
 * `npm start` as a user runs it (a fresh process, the real local stack), with `--mapping FILE`: the mapping is saved
 * for the tenant before the import and checked the way the API checks it.
 */
describe('npm start --mapping', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dado-start-'));
  const EMPLOYEES = 40;

  const start = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'local/start.ts', '--employees', String(EMPLOYEES), ...args],
        { cwd: process.cwd(), timeout: 150_000, env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' } },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  /** The simulator's employees for the same size (and default seed) `npm start` uses: an oracle independent of the import. */
  const simEmployees = async () => {
    const sim = await startPersonioSim({ employees: EMPLOYEES });
    try {
      return sim.employees();
    } finally {
      await sim.close();
    }
  };

  it('imports with the custom fields of the mapping file', async () => {
    // Prepare: the default fields plus two custom fields the simulator serves (a title, an anniversary date)
    const mapping = { ...defaultMapping('dynamic_180883'), customFields: { title: 'dynamic_24407', anniversary: 'dynamic_33400' } };
    const users = join(dir, 'custom-users.json');

    // Act
    const run = await start(['--mapping', file('custom.json', mapping), '--dump-users', users]);

    // Assess
    expect(run.out).toContain('Saved the mapping from');
    expect(run.code).toBe(0);
    const dumped = JSON.parse(readFileSync(users, 'utf8')) as UserRecord[];
    expect(dumped.length).toBeGreaterThan(0);
    const byId = new Map((await simEmployees()).map((e) => [e.id, e]));
    let titled = 0;
    for (const user of dumped) {
      const title = (byId.get(user.personioId)?.attributes['dynamic_24407'] as { value?: unknown } | undefined)?.value;
      expect(user.customFields['title'] ?? null, `user ${user.personioId}`).toBe(typeof title === 'string' && title.trim() !== '' ? title.trim() : null);
      if (user.customFields['title']) titled++;
    }
    expect(titled).toBeGreaterThan(0);
  }, 180_000);

  it('deactivates leavers by Personio status when the mapping leaves the status field unmapped, and writes no status', async () => {
    // Prepare
    const mapping = { ...defaultMapping(), fields: { ...defaultMapping().fields, status: null } };
    const users = join(dir, 'nostatus-users.json');
    const reports = join(dir, 'nostatus-reports.json');

    // Act
    const run = await start(['--mapping', file('nostatus.json', mapping), '--dump-users', users, '--report', reports, '--tenant', 'nostatus']);

    // Assess
    expect(run.code).toBe(0);
    expect((JSON.parse(readFileSync(reports, 'utf8')) as RunReport[])[0]).toMatchObject({ status: 'completed' });
    const dumped = JSON.parse(readFileSync(users, 'utf8')) as UserRecord[];
    const statusById = new Map((await simEmployees()).map((e) => [e.id, e.status]));
    const leavers = dumped.filter((u) => statusById.get(u.personioId) === 'inactive');
    expect(leavers.length).toBeGreaterThan(0);
    for (const user of dumped) {
      expect(user.status, `user ${user.personioId}`).toBeNull();
      expect(user.active, `user ${user.personioId}`).toBe(statusById.get(user.personioId) !== 'inactive');
    }
  }, 180_000);

  it.each([
    ['a file that does not exist', () => join(dir, 'missing.json'), /--mapping: cannot read .*missing\.json \(ENOENT\)/],
    ['a file that is not JSON', () => file('broken.json', '{"fields": '), /--mapping: .*broken\.json is not JSON/],
    [
      'an unknown user field',
      () => file('unknown.json', { ...defaultMapping(), fields: { ...defaultMapping().fields, nickname: 'first_name' } }),
      /not a valid mapping: .*fields/,
    ],
  ])(
    'refuses %s before anything starts, naming the problem',
    async (_, path, message) => {
      // Act
      const run = await start(['--mapping', path()]);

      // Assess
      expect(run.code).not.toBe(0);
      expect(run.out).toMatch(message);
      expect(run.out).not.toContain('Local stack ready');
    },
    60_000,
  );

  it('refuses a mapping whose attribute the credential cannot read, naming the field, and imports nothing', async () => {
    // Prepare
    const mapping = { ...defaultMapping(), customFields: { shirtSize: 'dynamic_424242' } };

    // Act
    const run = await start(['--mapping', file('unreadable.json', mapping)]);

    // Assess
    expect(run.code).not.toBe(0);
    expect(run.out).toContain('invalid_mapping');
    expect(run.out).toContain('customFields.shirtSize');
    expect(run.out).not.toMatch(/import (completed|held)/);
  }, 180_000);
});
