/**
 * Shared by the run-rule tests in this folder (not a test file itself): one local environment whose Personio is a
 * router with a simulator per tenant (its own credential, employees, knobs and a gate on the fetch's pages), and the
 * few chores those tests repeat: moving a lease into the past, delivering held messages to the real worker, holding a
 * DynamoDB call back (the latency real DynamoDB has and a test needs at one exact point), and recording what the
 * handlers send to SQS. `useRunsWorld()` registers the hooks each of those files shares around such a world.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { progressSk, runSk } from '../../lib/storage/tables.js';
import { startPersonioSim, type PersonioSim, type SimCredential, type SimOptions } from '../../local/personio-sim/index.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { lambdaContext, sqsEvent } from '../helpers/events.js';
import { PersonioRouter, type Gate } from '../lifecycle/personio.js';

export interface TenantPersonio {
  tenantId: string;
  sim: PersonioSim;
  /** Holds the fetch's list pages while closed. */
  gate: Gate;
  credential: SimCredential;
  /** Connects the tenant through the connect API with this Personio's credential. */
  connect(): Promise<void>;
  /** Personio no longer knows the credential (revoked or rotated): auth answers 401, its tokens 403. */
  revoke(): void;
  /** The credential works again (re-enabled in Personio). */
  restore(): void;
}

export interface RunsWorld {
  env: LocalEnvironment;
  router: PersonioRouter;
  /** A simulator of the tenant's own behind the router. */
  personio(tenantId: string, options?: SimOptions): Promise<TenantPersonio>;
  stop(): Promise<void>;
}

export async function startRunsWorld(): Promise<RunsWorld> {
  const router = await PersonioRouter.start();
  const sims: PersonioSim[] = [];
  // The environment's own credential is never used: every tenant connects with its own.
  const env = await startLocalEnvironment({ personio: { url: router.url, clientId: 'unused-client', clientSecret: 'unused-client-secret' } });
  return {
    env,
    router,
    async personio(tenantId, options = {}) {
      const credential = { clientId: `${tenantId}-client`, clientSecret: `${tenantId}-secret-${Math.random().toString(36).slice(2, 10)}` };
      const sim = await startPersonioSim({ employees: 30, seed: 7, ...options, credentials: [credential] });
      sims.push(sim);
      const gate = router.add(credential.clientId, sim);
      const personio: TenantPersonio = {
        tenantId,
        sim,
        gate,
        credential,
        connect: async () => void (await connectThroughApi(env, tenantId, { url: router.url, ...credential })),
        revoke: () => router.remove(credential.clientId),
        restore: () => {
          personio.gate = router.add(credential.clientId, sim);
        },
      };
      return personio;
    },
    async stop() {
      await env.stop();
      await router.close();
      await Promise.all(sims.map((s) => s.close()));
    },
  };
}

export interface RunsWorldOfFile extends Omit<RunsWorld, 'stop'> {
  /** Restores `thing` after the test, unless the test did so itself (as one that failed half-way did not). */
  restoredAfterTest<T extends { restore(): void }>(thing: T): T;
  /** Runs `cleanup` after the test. */
  afterTest(cleanup: () => void | Promise<void>): void;
}

/**
 * The hooks the run-rule test files share, registered in the calling `describe`: one world for the file, started before
 * its tests and stopped after them; the event source stopped before every test (the tests hold messages themselves:
 * nobody else consumes the queue unless a test starts the event source); and after every test, what it asked to be
 * restored or cleaned up, in that order. The world's members may be read only once the file's tests run.
 */
export function useRunsWorld(): RunsWorldOfFile {
  let world: RunsWorld | undefined;
  const cleanups: (() => void | Promise<void>)[] = [];
  const started = (): RunsWorld => {
    if (!world) throw new Error('the runs world is not started (its members are read inside hooks and tests)');
    return world;
  };

  beforeAll(async () => {
    world = await startRunsWorld();
  }, 60_000);

  afterAll(async () => {
    await world?.stop();
  });

  beforeEach(async () => {
    await started().env.eventSource.stop();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  return {
    get env() {
      return started().env;
    },
    get router() {
      return started().router;
    },
    personio: (tenantId, options) => started().personio(tenantId, options),
    restoredAfterTest(thing) {
      const restore = thing.restore.bind(thing);
      let restored = false;
      thing.restore = () => {
        if (restored) return;
        restored = true;
        restore();
      };
      cleanups.push(() => thing.restore());
      return thing;
    },
    afterTest(cleanup) {
      cleanups.push(cleanup);
    },
  };
}

const db = createDocumentClient();

/** Sets attributes of a run record directly: what the clock, or a function that died, would leave behind. */
export async function setRun(tenantId: string, runId: string, values: { status?: string; leaseExpiresAt?: number }): Promise<void> {
  const names: Record<string, string> = {};
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    names[`#${key}`] = key;
    attributes[`:${key}`] = value;
  }
  await db.send(
    new UpdateCommand({
      TableName: localNames.runsTable,
      Key: { tenantId, sk: runSk(runId) },
      UpdateExpression: `SET ${Object.keys(values)
        .map((k) => `#${k} = :${k}`)
        .join(', ')}`,
      ConditionExpression: 'attribute_exists(sk)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: attributes,
    }),
  );
}

/**
 * The lease of the run's current state has run out, and its last processed message is as long ago (as 45 minutes, or
 * 5, of real time would leave them: a run still making progress is given more time instead).
 */
export async function expireLease(tenantId: string, runId: string): Promise<void> {
  await setRun(tenantId, runId, { leaseExpiresAt: Date.now() - 1_000 });
  await db
    .send(
      new UpdateCommand({
        TableName: localNames.runsTable,
        Key: { tenantId, sk: progressSk(runId) },
        UpdateExpression: 'SET lastProgressAt = :long',
        ConditionExpression: 'attribute_exists(sk)',
        ExpressionAttributeValues: { ':long': Date.now() - 60 * 60_000 },
      }),
    )
    .catch(() => undefined);
}

/** Sets how many messages the run's fetch sent (the run and its progress item): the fetch packed them that way. */
export async function setMessagesSent(tenantId: string, runId: string, sent: number): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: localNames.runsTable,
      Key: { tenantId, sk: runSk(runId) },
      UpdateExpression: 'SET messagesSent = :n',
      ExpressionAttributeValues: { ':n': sent },
    }),
  );
  await db.send(
    new UpdateCommand({
      TableName: localNames.runsTable,
      Key: { tenantId, sk: progressSk(runId) },
      UpdateExpression: 'SET messagesSent = :n',
      ExpressionAttributeValues: { ':n': sent },
    }),
  );
}

/** Points the tenant's connection at a run directly: the claim an accepted "import now" leaves until its fetch starts. */
export async function setClaim(tenantId: string, claim: { activeRunId: string; lockExpiresAt: number }): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: localNames.connectionsTable,
      Key: { tenantId },
      UpdateExpression: 'SET activeRunId = :run, lockExpiresAt = :expires',
      ConditionExpression: 'attribute_exists(tenantId)',
      ExpressionAttributeValues: { ':run': claim.activeRunId, ':expires': claim.lockExpiresAt },
    }),
  );
}

/** Hands messages to the real worker as one SQS batch. */
export function deliver(env: LocalEnvironment, messages: readonly Message[]) {
  return env.handlers.worker(sqsEvent([...messages]), lambdaContext('personio-worker', 60_000));
}

/** The Personio ids a held message carries. */
export function idsIn(message: Message): number[] {
  const body = JSON.parse(message.Body ?? '{}') as { employees?: { id?: { value?: unknown } }[] };
  return (body.employees ?? []).flatMap((e) => {
    const id = Number(e.id?.value);
    return Number.isSafeInteger(id) && id > 0 ? [id] : [];
  });
}

type Send = (this: unknown, command: unknown, ...rest: unknown[]) => Promise<unknown>;
interface Command {
  constructor: { name: string };
  input: Record<string, unknown>;
}

/**
 * Holds back the first DynamoDB call `matches` accepts (from any client of the process, the handlers' included) until
 * `release()`, and counts every matching call; nothing is changed or answered in DynamoDB's place. This is how a test
 * puts another request exactly between a read and the write that follows it.
 */
export function holdDynamoCall(matches: (command: Command) => boolean): { arrivals(n: number): Promise<void>; release(): void; restore(): void } {
  const prototypes = [DynamoDBDocumentClient.prototype, DynamoDBClient.prototype] as unknown as Record<string, unknown>[];
  const previous = prototypes.map((p) => (Object.hasOwn(p, 'send') ? (p['send'] as Send) : undefined));
  const inherited = Object.getPrototypeOf(DynamoDBClient.prototype).send as Send;
  let arrived = 0;
  let released = false;
  let releaseHeld: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (releaseHeld = resolve));
  const waiters: { n: number; resolve: () => void }[] = [];
  prototypes.forEach((proto, i) => {
    const next = previous[i] ?? inherited;
    proto['send'] = async function (this: unknown, command: unknown, ...rest: unknown[]) {
      if (matches(command as Command)) {
        arrived++;
        for (const w of waiters.filter((w) => arrived >= w.n)) w.resolve();
        if (arrived === 1 && !released) await held;
      }
      return next.call(this, command, ...rest);
    } as Send;
  });
  return {
    arrivals: (n) => (arrived >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    release: () => {
      released = true;
      releaseHeld();
    },
    restore: () => {
      released = true;
      releaseHeld();
      prototypes.forEach((proto, i) => {
        if (previous[i] === undefined) delete proto['send'];
        else proto['send'] = previous[i];
      });
    },
  };
}

/** Records every command any SQS client of the process sends (the handlers' included), passing each on unchanged. */
export function recordSqsCommands(): { commands: Command[]; restore(): void } {
  const proto = SQSClient.prototype as unknown as Record<string, unknown>;
  const previous = Object.hasOwn(proto, 'send') ? (proto['send'] as Send) : undefined;
  const next = previous ?? (Object.getPrototypeOf(SQSClient.prototype).send as Send);
  const commands: Command[] = [];
  proto['send'] = function (this: unknown, command: unknown, ...rest: unknown[]) {
    commands.push(command as Command);
    return next.call(this, command, ...rest);
  } as Send;
  return {
    commands,
    restore: () => {
      if (previous === undefined) delete proto['send'];
      else proto['send'] = previous;
    },
  };
}
