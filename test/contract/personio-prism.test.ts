import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PersonioClient, clearTokenCache } from '../../lib/personio/client.js';
import { compactEmployee, employeeId } from '../../lib/personio/employee.js';
import { pageEmployees } from '../../lib/personio/pager.js';
import { RateLimiter, personioEmployeeWindows } from '../../lib/personio/rate-limiter.js';
import { defaultMapping, projection } from '../../lib/mapping/mapping.js';
import { startPersonioSim, type PersonioSim, type SimCredential } from '../../local/personio-sim/index.js';
import { findFreePort } from '../../local/aws/ports.js';

/**
 * Contract check by a tool we did not write: Stoplight Prism in proxy mode, on Personio's unmodified official
 * v1 specs, sits between our client and the simulator and validates every request and response. That checks
 * both what our client sends and how faithful the simulator's answers are.
 *
 * Prism reports (it runs without --errors) in the `sl-violations` response header. The one documented false
 * positive is ignored: the spec's `Response.data` is `type: object` while the list schemas `allOf` it with
 * `data: array`, so every list response, Personio's own example included, gets `data must be object`
 * (shared/research/personio-contract-and-simulator.md §2.1).
 */

const SPEC_DIR = fileURLToPath(new URL('../../../shared/personio-api/', import.meta.url));
const PERSONNEL_SPEC = `${SPEC_DIR}personio-personnel-data-api-oa3.yaml`;
const AUTH_SPEC = `${SPEC_DIR}personio-auth-api.yaml`;
const PRISM = fileURLToPath(new URL('../../node_modules/@stoplight/prism-cli/dist/index.js', import.meta.url));

const CREDENTIALS: SimCredential = { clientId: 'papi-contract-client', clientSecret: 'papi-contract-s3cret' };
const APP_ID = 'DADO_CONTRACT_CHECK';
const EMPLOYEES = 1_000;
/**
 * The client's configured root. `.invalid` never resolves, so nothing can leave the machine: the fetch wrapper
 * maps it onto the proxies, and throws for anything else.
 */
const API_ROOT = 'https://api.personio.invalid';

interface Violation {
  location: (string | number)[];
  severity: string;
  code: string | number;
  message: string;
}

/** One request as it went through a proxy, and what Prism said about it. */
interface Exchange {
  method: string;
  /** The path the client asked for, e.g. /v1/company/employees?limit=100&offset=0. */
  path: string;
  status: number;
  violations: Violation[];
}

function isKnownFalsePositive(v: Violation): boolean {
  return v.code === 'type' && v.location.join('.') === 'response.body.data' && /must be object/.test(v.message);
}

/** The request in short: the `attributes[]` projection is long and the same on every page, so it is counted. */
function shortRequest(e: Exchange): string {
  const url = new URL(e.path, 'http://x');
  const projected = url.searchParams.getAll('attributes[]').length;
  url.searchParams.delete('attributes[]');
  const query = [...url.searchParams].map(([k, v]) => `${k}=${v}`).concat(projected ? [`attributes[]×${projected}`] : []);
  return `${e.method} ${url.pathname}${query.length ? `?${query.join('&')}` : ''} -> ${e.status}`;
}

function describeViolation(e: Exchange, v: Violation): string {
  return `[${v.severity}] ${v.location.join('.')} (${v.code}): ${v.message}  <- ${shortRequest(e)}`;
}

function unexpected(exchanges: Exchange[]): string[] {
  return exchanges.flatMap((e) => e.violations.filter((v) => !isKnownFalsePositive(v)).map((v) => describeViolation(e, v)));
}

const TRUNCATED = 'Too many violations! ';
const VIOLATION_OBJECT = /\{"location":\[[^\]]*\],"severity":"[^"]*","code":(?:"[^"]*"|-?\d+),"message":"(?:[^"\\]|\\.)*"\}/g;

/**
 * Prism's `sl-violations` header: a JSON array, or, past ~8 KiB, `Too many violations! ` and the array cut off
 * (prism-http-server's addViolationHeader). Then the complete entries are kept and the cut itself counts as a
 * violation, so a long list can never pass unseen.
 */
function parseViolations(header: string | null): Violation[] {
  if (!header) return [];
  if (!header.startsWith(TRUNCATED)) {
    try {
      return JSON.parse(header) as Violation[];
    } catch {
      return [{ location: ['sl-violations'], severity: 'Error', code: 'unparsable', message: header.slice(0, 500) }];
    }
  }
  const complete = (header.match(VIOLATION_OBJECT) ?? []).map((entry) => JSON.parse(entry) as Violation);
  return [
    ...complete,
    {
      location: ['sl-violations'],
      severity: 'Error',
      code: 'truncated',
      message: `Prism listed only the first ${complete.length} violations (too many for its header)`,
    },
  ];
}

interface Prism {
  url: string;
  log: string[];
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
// Belt and braces: should the worker die before afterAll, no Prism is left holding a port.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `prism proxy <spec> <upstream>` and resolves once it listens. */
async function startPrism(spec: string, upstream: string): Promise<Prism> {
  const port = await findFreePort();
  const child = spawn(process.execPath, [PRISM, 'proxy', spec, upstream, '--port', String(port), '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  children.add(child);
  const log: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    children.delete(child);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Prism did not start within 30 s.\n${log.join('')}`)), 30_000);
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        if (log.length < 2_000) log.push(text);
        if (/is listening on/.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Prism exited (${code ?? signal}) before it listened:\n${log.join('')}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, log, stop };
}

/**
 * The client's fetch: `/v1/auth` goes to the auth-spec proxy, everything else to the personnel-data proxy.
 * The spec paths carry no `/v1` (it is in `servers`), and Prism routes on the spec paths only, so `/v1` is
 * taken off here and the proxies' upstream (`<sim>/v1`) puts it back (research note §1.4). Every answer's
 * `sl-violations` header is recorded.
 */
function contractFetch(proxies: { auth: string; personnel: string }, exchanges: Exchange[]): typeof globalThis.fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== API_ROOT || !url.pathname.startsWith('/v1/')) {
      throw new Error(`The contract check only routes ${API_ROOT}/v1/…, but the client asked for ${request.url}`);
    }
    const specPath = url.pathname.slice('/v1'.length);
    const target = `${specPath === '/auth' ? proxies.auth : proxies.personnel}${specPath}${url.search}`;
    // A string body gets a Content-Length, as the client's own JSON body does.
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.text();
    const response = await globalThis.fetch(target, { method: request.method, headers: request.headers, body, signal: request.signal });
    const violations = parseViolations(response.headers.get('sl-violations'));
    // Prism's own errors (no route matched, upstream unreachable, …) are problem+json, never Personio's envelope.
    if ((response.headers.get('content-type') ?? '').includes('application/problem+json')) {
      const problem = await response.clone().text();
      violations.push({ location: ['prism'], severity: 'Error', code: response.status, message: problem.slice(0, 500) });
    }
    exchanges.push({ method: request.method, path: `${url.pathname}${url.search}`, status: response.status, violations });
    return response;
  };
}

describe('Personio contract: our client and the simulator through Prism on the official v1 specs', () => {
  let sim: PersonioSim | undefined;
  const prisms: Prism[] = [];
  let proxies: { auth: string; personnel: string };
  // Personio's own limits, shared by every client in this file, as in production.
  const limiter = new RateLimiter({ windows: personioEmployeeWindows });

  const client = (exchanges: Exchange[]): PersonioClient =>
    new PersonioClient({
      baseUrl: API_ROOT,
      appId: APP_ID,
      credentials: CREDENTIALS,
      limiter,
      retryLimit: 0,
      fetch: contractFetch(proxies, exchanges),
    });

  beforeAll(async () => {
    for (const spec of [PERSONNEL_SPEC, AUTH_SPEC]) {
      if (!existsSync(spec)) {
        throw new Error(
          `Contract check: Personio's official spec is missing at ${spec}. It is read unmodified from ../shared/personio-api/ ` +
            "beside the repository (the clone's parent directory must contain shared/personio-api/).",
        );
      }
    }
    if (!existsSync(PRISM)) throw new Error(`Contract check: Prism is not installed at ${PRISM}; run npm ci.`);
    sim = await startPersonioSim({
      employees: EMPLOYEES,
      strictSpec: true,
      credentials: [CREDENTIALS],
      // Prism's validation delays some answers more than others, so requests our limiter spaced correctly can
      // reach the simulator bunched up. Rate limiting is not what this file checks: only 200s are expected here.
      employeesPerSecond: 1_000,
      employeesPerMinute: 60_000,
    });
    const upstream = `${sim.url}/v1`;
    const started = await Promise.allSettled([startPrism(PERSONNEL_SPEC, upstream), startPrism(AUTH_SPEC, upstream)]);
    for (const s of started) if (s.status === 'fulfilled') prisms.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    proxies = { personnel: prisms[0]!.url, auth: prisms[1]!.url };
  });

  afterAll(async () => {
    await Promise.allSettled(prisms.map((p) => p.stop()));
    await sim?.close();
  });

  beforeEach(() => {
    clearTokenCache();
  });

  it('a whole import (auth, attributes, projected pages, every page, one employee) raises no violation', async () => {
    sim!.setKnobs({ strictSpec: true });
    sim!.resetStats();
    const exchanges: Exchange[] = [];
    const personio = client(exchanges);
    const attributes = projection(defaultMapping());

    await personio.authenticate();
    const known = await personio.listAttributes();
    expect(known.length).toBeGreaterThan(0);
    const projected = await personio.listEmployees({ limit: 100, offset: 0, attributes });
    expect(projected.data).toHaveLength(100);
    const unprojected = await personio.listEmployees({ limit: 3, offset: 17 });
    expect(unprojected.data).toHaveLength(3);
    const ids: number[] = [];
    const paging = await pageEmployees(personio, { attributes }, async (employees) => {
      for (const e of employees) ids.push(employeeId(e) ?? -1);
    });
    expect(paging.employees).toBe(EMPLOYEES);
    expect(new Set(ids).size).toBe(EMPLOYEES);
    const last = ids[EMPLOYEES - 1]!;
    const one = await personio.getEmployee(last);
    expect(employeeId(compactEmployee(one))).toBe(last);

    // 1 auth + 1 attributes + 2 single pages + 11 pages (page 0, then 10 overlapping their neighbour by one) + 1 by id.
    expect(exchanges.length, exchanges.map((e) => `${e.method} ${e.path} -> ${e.status}`).join('\n')).toBeGreaterThanOrEqual(16);
    expect(exchanges.filter((e) => e.path === '/v1/auth')).toHaveLength(1);
    expect(exchanges.filter((e) => e.status !== 200).map(shortRequest)).toEqual([]);
    // Every request went through Prism to the simulator (proxied, not mocked).
    expect(sim!.stats().requests).toBe(exchanges.length);
    // Prism really validated the list bodies: each carries exactly the documented false positive.
    const lists = exchanges.filter((e) => e.path.startsWith('/v1/company/employees?'));
    expect(lists).toHaveLength(13);
    const found = unexpected(exchanges);
    const shown = found.slice(0, 60).join('\n') + (found.length > 60 ? `\n… and ${found.length - 60} more` : '');
    expect(found, `Prism reported ${found.length} violation(s) of Personio's official spec:\n${shown}`).toEqual([]);
    for (const list of lists) expect(list.violations.filter(isKnownFalsePositive), list.path).toHaveLength(1);
  });

  it("the check is live: the default simulator's `value: null` relations and malformed requests are reported", async () => {
    sim!.setKnobs({ strictSpec: false });
    try {
      const withoutSupervisor = sim!.employees().find((e) => (e.attributes['supervisor'] as { value?: unknown } | undefined)?.value === null);
      expect(withoutSupervisor, 'the simulator has an employee without a supervisor').toBeDefined();
      const exchanges: Exchange[] = [];
      const personio = client(exchanges);
      await personio.listEmployees({ limit: 100, offset: 0, attributes: ['department', 'supervisor'] });
      await personio.getEmployee(withoutSupervisor!.id);

      const found = unexpected(exchanges);
      expect(
        found.some((v) => /data\.\d+\.attributes\.department\.value \(type\): .*must be object/.test(v)),
        found.join('\n'),
      ).toBe(true);
      expect(
        found.some((v) => /data\.attributes\.supervisor\.value \(type\): .*must be object .*\/company\/employees\/\d+ /.test(v)),
        found.join('\n'),
      ).toBe(true);

      // Requests are checked too: a malformed one (not something our client sends) is reported, and still forwarded.
      const raw: Exchange[] = [];
      await contractFetch(proxies, raw)(`${API_ROOT}/v1/company/employees?limit=abc&offset=-1`, { headers: { Authorization: 'Bearer x' } });
      const requestViolations = unexpected(raw);
      expect(
        requestViolations.some((v) => /request\.query\.limit \(type\): .*must be integer/.test(v)),
        requestViolations.join('\n'),
      ).toBe(true);
      expect(
        requestViolations.some((v) => /request\.query\.offset \(minimum\): .*must be >= 0/.test(v)),
        requestViolations.join('\n'),
      ).toBe(true);
    } finally {
      sim!.setKnobs({ strictSpec: true });
    }
  });
});
