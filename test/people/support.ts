/**
 * Shared by the people tests in this folder (not a test file itself): one local environment whose Personio is a front
 * (test/helpers/personio-front.ts) with a fresh simulator per test behind it, and the chores those tests repeat:
 * connecting, choosing the mapping, importing as the schedule would, reading the users table, and checking after every
 * import the two things that must always hold for people (DESIGN §3): one user per Personio id, and one active user per
 * email address.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { userKeys } from '../../lib/storage/tables.js';
import type { Mapping } from '../../lib/mapping/mapping.js';
import { clearTokenCache } from '../../lib/personio/client.js';
import type { RunReport } from '../../lib/runs/run.js';
import type { StoredUser } from '../../lib/users/user.js';
import { DEFAULT_SIM_CREDENTIAL, startPersonioSim, type PersonioSim, type SimEmployeeView } from '../../local/personio-sim/index.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { apiCaller } from '../helpers/connect-support.js';
import { startPersonioFront, type PersonioFront } from '../helpers/personio-front.js';

export interface PeopleWorld {
  env: LocalEnvironment;
  front: PersonioFront;
  call: ReturnType<typeof apiCaller>;
  /** A simulator of this test's own behind the front (every tenant of the test sees it). */
  freshPersonio(options?: { employees?: number; seed?: number }): Promise<PersonioSim>;
  stop(): Promise<void>;
}

export async function startPeopleWorld(): Promise<PeopleWorld> {
  const front = await startPersonioFront();
  const sims: PersonioSim[] = [];
  let env: LocalEnvironment | undefined;
  try {
    env = await startLocalEnvironment({ personio: { url: front.url, ...DEFAULT_SIM_CREDENTIAL } });
  } catch (error) {
    await front.close();
    throw error;
  }
  const ready = env;
  return {
    env: ready,
    front,
    call: apiCaller(() => ready),
    async freshPersonio(options = {}) {
      clearTokenCache();
      await ready.eventSource.stop();
      front.rewrite = undefined;
      const sim = await startPersonioSim({ employees: options.employees ?? 30, seed: options.seed ?? 7 });
      sims.push(sim);
      front.upstream = sim.url;
      return sim;
    },
    async stop() {
      await ready.stop();
      await Promise.all(sims.map((s) => s.close()));
      await front.close();
    },
  };
}

/** Connects the tenant as Dado's settings page would (throws with Personio's refusal otherwise). */
export async function connect(world: PeopleWorld, tenantId: string): Promise<void> {
  await connectThroughApi(world.env, tenantId, world.env.personio);
}

/** Saves the tenant's mapping through `PUT …/mapping`: the connection's mapping with these fields changed. */
export async function saveMapping(world: PeopleWorld, tenantId: string, fields: Partial<Mapping['fields']>): Promise<Mapping> {
  const current = (await world.call('GET', `/tenants/${tenantId}/personio`)).body.mapping as Mapping;
  const mapping = { fields: { ...current.fields, ...fields }, customFields: current.customFields };
  const saved = await world.call('PUT', `/tenants/${tenantId}/personio/mapping`, mapping);
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  return mapping;
}

/** One import as the schedule starts it, through the real fetch and worker; then the one-user rules are checked. */
export async function importAll(world: PeopleWorld, tenantId: string): Promise<RunReport> {
  const report = await runImport(world.env, tenantId, { timeoutMs: 60_000 });
  await world.env.eventSource.stop();
  await expectOneUserPerPerson(world, tenantId);
  return report;
}

/** Every user of the tenant with its bookkeeping (emailKey, previousEmail), as the table holds it. */
export const storedUsers = (world: PeopleWorld, tenantId: string): Promise<StoredUser[]> => world.env.users.listStored(tenantId);

export async function usersByPersonioId(world: PeopleWorld, tenantId: string): Promise<Map<number, StoredUser>> {
  return new Map((await storedUsers(world, tenantId)).map((u) => [u.personioId, u]));
}

/** Never two users with one Personio id; never two active users with one address (case-insensitive). */
export async function expectOneUserPerPerson(world: PeopleWorld, tenantId: string): Promise<void> {
  const users = await storedUsers(world, tenantId);
  const byPersonioId = groupBy(
    users.filter((u) => typeof u.personioId === 'number'),
    (u) => String(u.personioId),
  );
  expect(duplicates(byPersonioId), 'Personio ids with more than one user (user ids)').toEqual({});
  const byEmail = groupBy(
    users.filter((u) => u.active && typeof u.email === 'string' && u.email !== ''),
    (u) => u.email!.toLowerCase(),
  );
  // Named by Personio ids only: the addresses are employee data.
  expect(Object.values(duplicates(byEmail)), 'addresses held by more than one active user (their Personio ids)').toEqual([]);
}

function groupBy(users: StoredUser[], key: (u: StoredUser) => string): Map<string, StoredUser[]> {
  const groups = new Map<string, StoredUser[]>();
  for (const u of users) groups.set(key(u), [...(groups.get(key(u)) ?? []), u]);
  return groups;
}

function duplicates(groups: Map<string, StoredUser[]>): Record<string, (string | number)[]> {
  const out: Record<string, (string | number)[]> = {};
  let n = 0;
  for (const [key, members] of groups) {
    if (members.length < 2) continue;
    out[/@/.test(key) ? `address ${++n}` : key] = members.map((m) => (/@/.test(key) ? m.personioId : m.userId));
  }
  return out;
}

/** Employees Personio lists as active (not leavers) with a usable address, in the simulator's order. */
export function activeWithEmail(sim: PersonioSim): SimEmployeeView[] {
  return sim.employees().filter((e) => e.status !== 'inactive' && e.email !== null && e.email.trim() !== '');
}

/** The run's finding with this code (undefined when it has none). */
export const finding = (report: RunReport, code: string) => report.findings.find((f) => f.code === code);

type Send = (this: unknown, command: unknown, ...rest: unknown[]) => Promise<unknown>;

/**
 * Real DynamoDB's timing at one exact point: the email index look-ups for this address (from any DynamoDB client of the
 * process, the handlers' included) are held until `together` of them have been sent, then all go on at once, so each
 * employee's look-up happens before any of them writes (as concurrent workers, or an eventually consistent index, give
 * on real DynamoDB). Nothing is changed or answered in DynamoDB's place. If fewer look-ups come (code that serializes
 * them), the held ones go on after `capMs`: a cap on the hold, not a bound the test asserts.
 */
export function holdEmailLookupsTogether(address: string, together = 2, capMs = 5_000): { arrived(): number; restore(): void } {
  const prototypes = [DynamoDBDocumentClient.prototype, DynamoDBClient.prototype] as unknown as Record<string, unknown>[];
  const previous = prototypes.map((p) => (Object.hasOwn(p, 'send') ? (p['send'] as Send) : undefined));
  const inherited = Object.getPrototypeOf(DynamoDBClient.prototype).send as Send;
  const key = address.toLowerCase();
  let arrived = 0;
  let open: () => void = () => undefined;
  const barrier = new Promise<void>((resolve) => (open = resolve));
  const timers = new Set<NodeJS.Timeout>();
  const isLookup = (command: unknown): boolean => {
    const input = (command as { input?: { IndexName?: unknown; ExpressionAttributeValues?: Record<string, unknown> } }).input;
    if (input?.IndexName !== userKeys.emailIndex) return false;
    const values = input.ExpressionAttributeValues ?? {};
    // Document client values are native; a low-level client's are { S: … }.
    return Object.values(values).some((v) => v === key || (v as { S?: unknown } | undefined)?.S === key);
  };
  prototypes.forEach((proto, i) => {
    const next = previous[i] ?? inherited;
    proto['send'] = async function (this: unknown, command: unknown, ...rest: unknown[]) {
      if (isLookup(command)) {
        arrived++;
        if (arrived >= together) open();
        else {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, capMs);
            timers.add(timer);
            void barrier.then(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
      }
      return next.call(this, command, ...rest);
    } as Send;
  });
  return {
    arrived: () => arrived,
    restore: () => {
      open();
      for (const t of timers) clearTimeout(t);
      prototypes.forEach((proto, i) => {
        if (previous[i] === undefined) delete proto['send'];
        else proto['send'] = previous[i];
      });
    },
  };
}
