import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { httpEvent, sqsEvent } from '../../local/runner/events.js';
import { changeMessage, type HandledEvent } from '../../lib/webhooks/change.js';
import type { Mapping } from '../../lib/mapping/mapping.js';
import { injectDynamoFaults, type DynamoFaultRule, type DynamoFaults } from '../helpers/faulty-dynamodb.js';
import { SimClock } from './clock.js';
import { BATCH_SIZE, DeliveryPool, type PoolMessage } from './delivery.js';
import { Invocations, type Invocation, type InvocationOutcome } from './invocations.js';
import type { Item } from './observe.js';
import { PersonioRouter, type Gate } from './personio.js';

/**
 * The simulation's world: one local environment per process (DynamoDB Local, SQS, the stand-ins, the real handlers),
 * the simulated clock, the Personio router, the invocation registry and the DynamoDB fault injection. Each sequence
 * gets a `Tenant`: a fresh tenant id with its own Personio simulator, message pool and gate.
 */

/** The custom fields every tenant maps: the simulator's `extraAttributes: 1` and `integerAttributes: 1`. */
export const CUSTOM_FIELDS = { note: 'dynamic_9000', badge: 'dynamic_9500' } as const;

const SWEEPER_PATH = new URL('../../functions/sweeper.ts', import.meta.url);
type SweeperHandler = (event: unknown, context: Context) => Promise<unknown>;

export class World {
  private tenantCount = 0;
  /** What the sequences did, over all of them: shows what the invariants were exercised on. */
  readonly coverage = new Coverage();
  current: Tenant | undefined;
  private constructor(
    readonly env: LocalEnvironment,
    readonly router: PersonioRouter,
    readonly clock: SimClock,
    readonly invocations: Invocations,
    readonly faults: DynamoFaults,
    readonly db: DynamoDBDocumentClient,
    readonly sweeper: SweeperHandler | undefined,
    readonly sweeperProblem: string | undefined,
  ) {}

  static async start(options: { logLevel?: string } = {}): Promise<World> {
    // Before the handlers load: anything they capture at module load (Date.now for a back-off budget) is the fake.
    const clock = SimClock.install();
    const invocations = new Invocations();
    invocations.install();
    const faults = injectDynamoFaults([]);
    const router = await PersonioRouter.start();
    let env: LocalEnvironment;
    try {
      env = await startLocalEnvironment({
        personio: { url: router.url, clientId: 'lifecycle-unused', clientSecret: 'lifecycle-unused' },
        logLevel: options.logLevel ?? 'SILENT',
      });
    } catch (error) {
      await router.close();
      faults.restore();
      invocations.uninstall();
      clock.uninstall();
      throw error;
    }
    let sweeper: SweeperHandler | undefined;
    let sweeperProblem: string | undefined;
    if (existsSync(SWEEPER_PATH)) {
      try {
        const module = (await import(SWEEPER_PATH.href)) as { handler?: SweeperHandler };
        if (typeof module.handler === 'function') sweeper = module.handler;
        else sweeperProblem = 'functions/sweeper.ts exports no handler';
      } catch (error) {
        sweeperProblem = `functions/sweeper.ts failed to load: ${error instanceof Error ? error.message : String(error)}`;
      }
    } else sweeperProblem = 'functions/sweeper.ts does not exist (yet): the sweeper command is skipped';
    const world = new World(env, router, clock, invocations, faults, createDocumentClient(), sweeper, sweeperProblem);
    // "Import now" reaches the fetch through the Lambda stand-in; the simulation runs it as one of its invocations.
    env.stack.lambda.register(localNames.fetchFunction, (event) => {
      const tenant = world.current;
      if (!tenant) return Promise.resolve(undefined);
      return tenant.startFetch(event, 'api').outcome;
    });
    clock.onJump(async (now) => {
      invocations.killExpired(now);
      await world.current?.expireTtl(now);
    });
    return world;
  }

  async newTenant(options: { employees: number; seed: number }): Promise<Tenant> {
    if (this.current) await this.current.close();
    const n = ++this.tenantCount;
    const tenantId = `lc-${process.pid}-${n}`;
    const credential = { clientId: `lc-client-${process.pid}-${n}`, clientSecret: `lc-secret-${randomUUID()}` };
    // One custom text and one custom integer attribute, which the tenant maps (see ConnectWithCustomFields).
    const sim = await startPersonioSim({
      employees: options.employees,
      seed: options.seed,
      credentials: [credential],
      latencyMs: 0,
      extraAttributes: 1,
      integerAttributes: 1,
    });
    const gate = this.router.add(credential.clientId, sim);
    const tenant = new Tenant(this, tenantId, credential, sim, gate);
    this.coverage.add(options.employees > 100 ? 'tenants of 110–220 employees' : 'tenants of 3–30 employees');
    this.current = tenant;
    this.invocations.sqsHook = (command) => tenant.pool.hook(command);
    return tenant;
  }

  async stop(): Promise<void> {
    await this.current?.close();
    this.current = undefined;
    this.invocations.killAll('the simulation stopped');
    await this.env.stop();
    await this.router.close();
    this.faults.restore();
    this.invocations.uninstall();
    this.clock.uninstall();
  }
}

export interface FetchHandle {
  invocation: Invocation;
  trigger: 'schedule' | 'console' | 'api';
  /** The run id the event named (import now), or the one the outcome named. */
  runId: string | undefined;
  outcome: Promise<InvocationOutcome<unknown>>;
  settled: InvocationOutcome<unknown> | undefined;
  /** Model bookkeeping: the step the fetch started in and the one it ended in. */
  startStep: number;
  endStep: number | undefined;
}

/** The fields of the connect API's answers that the simulation reads; which of them an answer has depends on its route and status. */
export interface ApiBody {
  /** Any answer from 400 on (also the stand-in's 500 and 503 for a function that died). */
  error?: { code: string };
  /** POST …/imports (202). */
  runId?: string;
  /** POST …/imports/{runId}/approve (200). */
  deactivated?: number;
  /** GET /tenants/{tenantId}/personio (200). */
  mapping?: Mapping;
}

export interface ApiAnswer {
  status: number;
  /** Null when the answer has no body. */
  body: ApiBody | null;
}

export type WorkerOutcome = 'returned' | 'threw' | 'killed';

export class Tenant {
  readonly pool: DeliveryPool;
  readonly fetches: FetchHandle[] = [];
  /** The model's step, set by the commands, so fetches started by the Lambda stand-in know when they started. */
  step = 0;

  constructor(
    readonly world: World,
    readonly id: string,
    readonly credential: { clientId: string; clientSecret: string },
    readonly sim: PersonioSim,
    readonly gate: Gate,
  ) {
    this.pool = new DeliveryPool(world.env.sqs, world.env.queueUrls.importQueueUrl, id, `lc-${id}-`, () => Date.now());
  }

  async close(): Promise<void> {
    const coverage = this.world.coverage;
    coverage.add('message visibility changes the worker asked for', this.pool.visibilityRequests.length);
    coverage.add('messages delivered more than once', this.pool.messages.filter((m) => m.processed > 1).length);
    coverage.add('messages that reached the DLQ', this.pool.messages.filter((m) => m.receiveCount >= 5 || m.state === 'dlq').length);
    for (const run of await this.runs().catch(() => [])) coverage.add(`runs ended ${String(run['status'])}`);
    for (const user of await this.users().catch(() => [])) if (user['deactivatedAt']) coverage.add('users deactivated as leavers');
    this.gate.dropAll();
    this.gate.open();
    for (const fetch of this.liveFetches()) fetch.invocation.kill('the sequence ended');
    this.world.faults.clear();
    this.world.router.remove(this.credential.clientId);
    await this.sim.close().catch(() => undefined);
    if (this.world.current === this) this.world.current = undefined;
  }

  // ---- the connect API ---------------------------------------------------------------------------------

  /** Calls the connect API as API Gateway would; `killAfterWrites` kills the function at that DynamoDB write. */
  async api(method: string, path: string, body?: unknown, killAfterWrites?: number): Promise<ApiAnswer> {
    // The deployed handler gets Lambda's context too (the local Handlers type leaves it out).
    const connect = this.world.env.handlers.connect as (event: unknown, context: Context) => Promise<{ statusCode?: number; body?: string }>;
    let rule: DynamoFaultRule | undefined;
    const { outcome } = this.world.invocations.start(
      'connect',
      (context) => connect(httpEvent(method, path, body), context),
      (invocation) => {
        if (killAfterWrites !== undefined) rule = this.killAfterWrites(invocation, killAfterWrites, 'connect died mid-request');
      },
    );
    const result = await outcome;
    if (rule) this.world.faults.remove(rule);
    if (result.kind === 'returned') {
      const raw = (result.value as { statusCode?: number; body?: string }) ?? {};
      return { status: raw.statusCode ?? 0, body: raw.body ? (JSON.parse(raw.body) as ApiBody) : null };
    }
    // API Gateway answers 500 (a throw) or 503 (a timeout) when the function does not answer.
    return { status: result.kind === 'threw' ? 500 : 503, body: { error: { code: result.kind === 'threw' ? 'function_error' : 'function_timeout' } } };
  }

  connect(): Promise<ApiAnswer> {
    return this.api('PUT', `/tenants/${this.id}/personio`, { clientId: this.credential.clientId, clientSecret: this.credential.clientSecret });
  }

  /** Maps the simulator's custom attributes onto custom fields, on top of the tenant's current mapping. */
  async mapCustomFields(): Promise<ApiAnswer> {
    const current = await this.api('GET', `/tenants/${this.id}/personio`);
    if (current.status !== 200) return current;
    return this.api('PUT', `/tenants/${this.id}/personio/mapping`, { fields: current.body!.mapping!.fields, customFields: CUSTOM_FIELDS });
  }

  disconnect(): Promise<ApiAnswer> {
    return this.api('DELETE', `/tenants/${this.id}/personio`);
  }

  importNow(): Promise<ApiAnswer> {
    return this.api('POST', `/tenants/${this.id}/personio/imports`);
  }

  approve(runId: string, killAfterWrites?: number): Promise<ApiAnswer> {
    return this.api('POST', `/tenants/${this.id}/personio/imports/${runId}/approve`, undefined, killAfterWrites);
  }

  // ---- the fetch ---------------------------------------------------------------------------------------

  /**
   * Starts one invocation of the fetch; it may stop at the gate. `killAfterWrites` kills it (a timeout or crash)
   * when it tries its (n+1)th DynamoDB write.
   */
  startFetch(event: unknown, trigger: FetchHandle['trigger'], killAfterWrites?: number): FetchHandle {
    let rule: DynamoFaultRule | undefined;
    const { invocation, outcome } = this.world.invocations.start(
      'fetch',
      (context) => this.world.env.handlers.fetch(event, context),
      (started) => {
        if (killAfterWrites !== undefined) rule = this.killAfterWrites(started, killAfterWrites, 'fetch died mid-run');
      },
    );
    void outcome.then(() => rule && this.world.faults.remove(rule));
    const named = (event as { runId?: unknown } | null)?.runId;
    const handle: FetchHandle = {
      invocation,
      trigger,
      runId: typeof named === 'string' ? named : undefined,
      outcome,
      settled: undefined,
      startStep: this.step,
      endStep: undefined,
    };
    outcome.then((o) => {
      handle.settled = o;
      handle.endStep = this.step;
      const runId = o.kind === 'returned' ? (o.value as { runId?: unknown } | undefined)?.runId : undefined;
      if (typeof runId === 'string') handle.runId ??= runId;
    });
    this.fetches.push(handle);
    return handle;
  }

  /** The event the tenant's schedule sends (its Target.Input, context attributes filled in), or the console's. */
  scheduledEvent(scheduledAt: Date): { event: unknown; fromSchedule: boolean } {
    const schedule = this.world.env.stack.scheduler.schedules().find((s) => typeof s.Target.Input === 'string' && s.Target.Input.includes(`"${this.id}"`));
    if (!schedule?.Target.Input) return { event: { tenantId: this.id }, fromSchedule: false };
    const input = schedule.Target.Input.replaceAll('<aws.scheduler.scheduled-time>', scheduledAt.toISOString().replace(/\.\d{3}Z$/, 'Z'))
      .replaceAll('<aws.scheduler.execution-id>', randomUUID())
      .replaceAll('<aws.scheduler.attempt-number>', '1')
      .replaceAll('<aws.scheduler.schedule-arn>', schedule.Arn);
    return { event: JSON.parse(input) as unknown, fromSchedule: true };
  }

  /** Fetches not yet ended (running, or waiting at the gate). */
  liveFetches(): FetchHandle[] {
    return this.fetches.filter((f) => f.settled === undefined && !f.invocation.dead);
  }

  /**
   * Waits until every live fetch has either ended or is waiting at the closed gate (real-time bound). The gate
   * holds one request per waiting fetch.
   */
  async quiesceFetches(timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const live = this.liveFetches();
      if (live.length === 0) return;
      const held = this.gate.heldFor();
      if (this.gate.isClosed && live.every((f) => held.has(f.invocation.id))) return;
      if (performance.now() > deadline) return;
      await Promise.race([Promise.race(live.map((f) => f.outcome)), this.gate.waitHeld(this.gate.heldCount + 1, 250)]);
    }
  }

  // ---- the worker --------------------------------------------------------------------------------------

  /**
   * Delivers batches as Lambda's event source does, concurrently, each to its own worker invocation. `killAfterWrites`
   * kills an invocation (as a timeout or crash would) when it tries its (n+1)th DynamoDB write.
   */
  async deliver(batches: { messages: PoolMessage[]; killAfterWrites?: number }[]): Promise<WorkerOutcome[]> {
    return Promise.all(
      batches.map(async ({ messages, killAfterWrites }) => {
        const records = this.pool.receive(messages.slice(0, BATCH_SIZE));
        let rule: DynamoFaultRule | undefined;
        const { outcome } = this.world.invocations.start(
          'worker',
          (context) => this.world.env.handlers.worker(sqsEvent(records), context) as Promise<unknown>,
          (invocation) => {
            if (killAfterWrites !== undefined) rule = this.killAfterWrites(invocation, killAfterWrites, 'worker died mid-message');
          },
        );
        const result = await outcome;
        if (rule) this.world.faults.remove(rule);
        this.pool.settle(messages.slice(0, BATCH_SIZE), result.kind === 'returned' ? { kind: 'returned', value: result.value } : { kind: result.kind });
        return result.kind;
      }),
    );
  }

  /** A rule that kills `invocation` at its (n+1)th DynamoDB write: that write and everything after it never happen. */
  private killAfterWrites(invocation: Invocation, writes: number, reason: string): DynamoFaultRule {
    return this.world.faults.add({
      name: reason,
      command: ['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem'],
      skip: writes,
      count: 1,
      when: () => this.world.invocations.current() === invocation,
      fault: 'hang',
      onFault: () => invocation.kill(reason),
    });
  }

  // ---- webhooks ----------------------------------------------------------------------------------------

  /**
   * Personio's webhooks for these employees reached the receiver, and the changes queue hands them to the refresh in
   * one batch (the receiver itself is tested on its own: test/webhooks): one delta run re-reads them. The event matters:
   * only a deletion lets a 404 deactivate.
   */
  async refresh(changes: readonly { personId: number; event: HandledEvent }[]): Promise<InvocationOutcome<unknown>> {
    const now = new Date();
    const records = changes.map(({ personId, event }, i) => ({
      MessageId: `change-${this.step}-${i}-${randomUUID()}`,
      ReceiptHandle: randomUUID(),
      Body: JSON.stringify(changeMessage({ tenantId: this.id, event, personId, occurredAt: now.toISOString() }, now)),
      Attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(now.getTime()) },
    }));
    return this.world.invocations.start('refresh', (context) => this.world.env.handlers.refresh(sqsEvent(records), context) as Promise<unknown>).outcome;
  }

  // ---- the sweeper -------------------------------------------------------------------------------------

  async sweep(): Promise<InvocationOutcome<unknown> | undefined> {
    const sweeper = this.world.sweeper;
    if (!sweeper) return undefined;
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'eu-central-1',
      resources: [],
      detail: {},
    };
    return this.world.invocations.start('sweeper', (context) => sweeper(event, context)).outcome;
  }

  /**
   * A user Dado created itself (an admin invited them before Personio was connected): no Personio link. The import
   * must link it by email on first sight, never duplicate it, and never deactivate it while it is not linked.
   */
  async createDadoUser(email: string, firstName: string | null): Promise<string> {
    const userId = randomUUID();
    const now = new Date().toISOString();
    await this.world.db.send(
      new PutCommand({
        TableName: localNames.usersTable,
        Item: {
          tenantId: this.id,
          sk: `user#${userId}`,
          userId,
          email,
          emailKey: email.toLowerCase(),
          firstName,
          active: true,
          customFields: {},
          createdAt: now,
          updatedAt: now,
        },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    return userId;
  }

  // ---- reading the tables ------------------------------------------------------------------------------

  private async query(table: string, prefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.world.db.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: prefix === undefined ? 'tenantId = :t' : 'tenantId = :t AND begins_with(sk, :p)',
          ExpressionAttributeValues: prefix === undefined ? { ':t': this.id } : { ':t': this.id, ':p': prefix },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** Raw user items (bookkeeping included). */
  users(): Promise<Item[]> {
    return this.query(localNames.usersTable, 'user#');
  }

  /** Raw run records, oldest first. */
  async runs(): Promise<Item[]> {
    return (await this.query(localNames.runsTable, 'run#')).sort((a, b) => String(a['sk']).localeCompare(String(b['sk'])));
  }

  async connection(): Promise<Item | undefined> {
    return (await this.world.db.send(new GetCommand({ TableName: localNames.connectionsTable, Key: { tenantId: this.id }, ConsistentRead: true }))).Item;
  }

  /** DynamoDB's TTL, which DynamoDB Local never runs: deletes the runs table's items whose `expiresAt` has passed. */
  async expireTtl(now: number): Promise<number> {
    const items = await this.query(localNames.runsTable);
    let deleted = 0;
    for (const item of items) {
      const expiresAt = item['expiresAt'];
      if (typeof expiresAt === 'number' && expiresAt * 1000 <= now) {
        await this.world.db.send(new DeleteCommand({ TableName: localNames.runsTable, Key: { tenantId: this.id, sk: item['sk'] } }));
        deleted++;
      }
    }
    return deleted;
  }
}

/** Counts of what happened, by name. */
export class Coverage {
  private readonly counts = new Map<string, number>();
  add(name: string, by = 1): void {
    if (by !== 0) this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }
  entries(): [string, number][] {
    return [...this.counts].sort(([a], [b]) => a.localeCompare(b));
  }
}
