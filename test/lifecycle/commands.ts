import fc from 'fast-check';
import { localNames } from '../../local/runner/environment.js';
import type { DynamoFaultRule } from '../helpers/faulty-dynamodb.js';
import { BATCH_SIZE, MAX_CONCURRENCY, type PoolMessage } from './delivery.js';
import { REVOCABLE_ATTRIBUTES, type Model } from './model.js';
import { act, beginStep, checkStuck, endStep } from './step.js';
import type { Tenant } from './world.js';

/**
 * The operations a sequence is made of. Each is one step: it changes Personio, calls the API, invokes a handler,
 * delivers messages, injects a fault or moves the clock, then the invariants are checked. Choices that name an
 * employee, a message or a run are indices taken modulo what exists when the command runs, so a shrunk sequence stays
 * meaningful.
 */

type Cmd = fc.AsyncCommand<Model, Tenant>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Past every lease (lib/runs/lease.ts: the fetch's 15 min + 1, processing 45 min after the fetch) and a sweep. */
export const STALL_HORIZON_MS = 2 * HOUR;

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);

function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

abstract class Step implements Cmd {
  abstract check(m: Readonly<Model>): boolean;
  abstract toString(): string;
  protected abstract step(m: Model, t: Tenant): Promise<void>;
  async run(m: Model, t: Tenant): Promise<void> {
    beginStep(m, t);
    t.world.coverage.add(`commands: ${this.constructor.name}`);
    await this.step(m, t);
    await endStep(m, t);
    if (process.env['LIFECYCLE_TRACE']) await trace(m, t, this.toString());
  }
}

/** LIFECYCLE_TRACE=1: one line per step (runs, users, queue), for reading what a sequence did. */
async function trace(m: Model, t: Tenant, label: string): Promise<void> {
  const [runs, users] = await Promise.all([t.runs(), t.users()]);
  const active = users.filter((u) => u['active']).length;
  const p = t.pool.stats();
  process.stderr.write(
    `  ${String(m.step).padStart(3)} ${label.padEnd(44)} runs [${runs.map((r) => `${String(r['runId']).slice(-4)}:${r['status']}`).join(' ')}] users ${active}/${users.length} active, Personio ${m.presentIds.length}, queue ${p.queued} (${p.visible} visible) dlq ${p.inDlq}\n`,
  );
}

// ---- the tenant and its imports ------------------------------------------------------------------------

class Connect extends Step {
  check = (m: Readonly<Model>) => m.connection !== 'connected';
  toString = () => 'Connect';
  protected async step(m: Model, t: Tenant) {
    const answer = await act(m, t, {}, () => t.connect());
    if (answer.status === 200) m.connection = 'connected';
  }
}

/** The first connect of a sequence: connect, then map the simulator's custom attributes onto custom fields. */
class ConnectWithCustomFields extends Step {
  check = (m: Readonly<Model>) => m.connection !== 'connected';
  toString = () => 'ConnectWithCustomFields';
  protected async step(m: Model, t: Tenant) {
    const answer = await act(m, t, {}, () => t.connect());
    if (answer.status !== 200) throw new Error(`connecting the tenant failed: ${answer.status} ${answer.body?.error?.code ?? ''}`);
    m.connection = 'connected';
    const mapped = await act(m, t, {}, () => t.mapCustomFields());
    if (mapped.status !== 200) throw new Error(`mapping the custom fields failed: ${mapped.status} ${mapped.body?.error?.code ?? ''}`);
  }
}

class Disconnect extends Step {
  check = (m: Readonly<Model>) => m.connection === 'connected';
  toString = () => 'Disconnect';
  protected async step(m: Model, t: Tenant) {
    const answer = await act(m, t, {}, () => t.disconnect());
    if (answer.status === 200) m.connection = 'disconnected';
  }
}

/**
 * The tenant's schedule fires (the clock moves to the next hour, plus the flexible window), maybe delivered twice.
 * Meanwhile, and right after, the event source delivers what is visible, unless it is `paused` (throttled, disabled).
 */
class ScheduleFires extends Step {
  constructor(
    readonly windowMinutes: number,
    readonly duplicate: 'none' | 'concurrent' | 'later',
    readonly paused = false,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.connection === 'connected';
  toString = () =>
    `ScheduleFires(+${this.windowMinutes}min${this.duplicate === 'none' ? '' : `, delivered twice ${this.duplicate}`}${this.paused ? ', event source paused' : ''})`;
  protected async step(m: Model, t: Tenant) {
    const firing = (Math.floor(Date.now() / HOUR) + 1) * HOUR;
    await passTime(m, t, firing + this.windowMinutes * MINUTE, !this.paused);
    m.lastFiring = firing;
    const { event } = t.scheduledEvent(new Date(firing));
    await act(m, t, {}, async () => {
      t.startFetch(event, 'schedule');
      if (this.duplicate === 'concurrent') t.startFetch(event, 'schedule');
      await t.quiesceFetches();
      if (this.duplicate === 'later') t.startFetch(event, 'schedule');
    });
    // The event source picks the run's messages up within seconds.
    if (!this.paused) await passTime(m, t, Date.now(), true);
  }
}

/** Someone invokes the fetch from the console with {"tenantId"}; it may die after some DynamoDB writes. */
class ConsoleFetch extends Step {
  constructor(readonly killAfterWrites: number | undefined) {
    super();
  }
  check = () => true;
  toString = () => `ConsoleFetch${this.killAfterWrites === undefined ? '' : `(dies at DynamoDB write ${this.killAfterWrites + 1})`}`;
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, async () => void t.startFetch({ tenantId: t.id }, 'console', this.killAfterWrites));
  }
}

/** "Import now" through the API (202, or 409 import_running while a run is not final). */
class ImportNow extends Step {
  check = () => true;
  toString = () => 'ImportNow';
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, async () => {
      const answer = await t.importNow();
      const runId = answer.status === 202 ? answer.body?.runId : undefined;
      if (typeof runId === 'string') {
        // The Lambda stand-in starts the fetch just after answering.
        const deadline = performance.now() + 5_000;
        while (!t.fetches.some((f) => f.runId === runId) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      }
      return answer;
    });
  }
}

/** Approves a run (a held one when there is one); the function may die at its (n+1)th DynamoDB write. */
class Approve extends Step {
  constructor(
    readonly n: number,
    readonly anyRun: boolean,
    readonly killAfterWrites?: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.runs.size > 0;
  toString = () => `Approve(${this.anyRun ? 'any run' : 'a held run'} #${this.n}${this.killAfterWrites === undefined ? '' : `, dies at DynamoDB write ${this.killAfterWrites + 1}`})`;
  protected async step(m: Model, t: Tenant) {
    const all = [...m.runs.values()];
    const held = all.filter((r) => r.status === 'held');
    // Mostly the newest held run (the one an admin would approve), sometimes an older one.
    const newestHeld = held.length > 0 && this.n % 4 !== 0 ? [held.reduce((a, b) => (b.fetchStart > a.fetchStart ? b : a))] : held;
    const run = pick(this.anyRun || held.length === 0 ? all : newestHeld, this.n);
    if (!run) return;
    await act(m, t, { approval: run.runId }, () => t.approve(run.runId, this.killAfterWrites));
  }
}

/** An admin approves a held run (mostly the newest); the function may die at its (n+1)th DynamoDB write. */
class ApproveHeld extends Approve {
  constructor(n: number, killAfterWrites?: number) {
    super(n, false, killAfterWrites);
  }
  override check = (m: Readonly<Model>) => [...m.runs.values()].some((r) => r.status === 'held');
  override toString = () => `ApproveHeld(#${this.n}${this.killAfterWrites === undefined ? '' : `, dies at DynamoDB write ${this.killAfterWrites + 1}`})`;
}

/** A held run is approved a month later: after its message markers' TTL. */
class LateApproval extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => [...m.runs.values()].some((r) => r.status === 'held');
  toString = () => `LateApproval(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, () => t.world.clock.jump(31 * DAY));
    const held = [...m.runs.values()].filter((r) => r.status === 'held');
    const run = this.n % 4 === 0 ? pick(held, this.n) : held.reduce<(typeof held)[number] | undefined>((a, b) => (!a || b.fetchStart > a.fetchStart ? b : a), undefined);
    if (run) await act(m, t, { approval: run.runId }, () => t.approve(run.runId));
  }
}

class Sweep extends Step {
  check = (m: Readonly<Model>) => m.sweeper;
  toString = () => 'Sweep';
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, () => t.sweep());
  }
}

// ---- Personio --------------------------------------------------------------------------------------------

abstract class PersonioChange extends Step {
  check = (m: Readonly<Model>) => m.presentIds.length > 0;
}

class Hire extends Step {
  constructor(readonly count: number) {
    super();
  }
  check = () => true;
  toString = () => `Hire(${this.count})`;
  protected async step(m: Model, t: Tenant) {
    for (const id of t.sim.addEmployees(this.count)) m.changed(id);
  }
}

class Leave extends PersonioChange {
  constructor(readonly n: number) {
    super();
  }
  toString = () => `Leave(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    leave(m, t, [pick(m.presentIds, this.n)]);
  }
}

/** Several leave at once: enough for the deactivation guard to hold the next run. */
class MassLeave extends PersonioChange {
  constructor(
    readonly percent: number,
    readonly seed: number,
  ) {
    super();
  }
  toString = () => `MassLeave(${this.percent} %, #${this.seed})`;
  protected async step(m: Model, t: Tenant) {
    const count = Math.max(1, Math.round((m.presentIds.length * this.percent) / 100));
    leave(m, t, shuffled(m.presentIds, this.seed).slice(0, count));
  }
}

function leave(m: Model, t: Tenant, ids: (number | undefined)[]): void {
  const views = new Map(t.sim.employees().map((e) => [e.id, e]));
  const gone = ids.filter((id): id is number => id !== undefined);
  t.sim.removeEmployees(gone);
  for (const id of gone) {
    const email = views.get(id)?.email;
    if (email) m.leftEmails.set(id, email);
    m.removed(id);
    if (m.hidden.has(id)) {
      m.hidden.delete(id);
      t.sim.setKnobs({ hiddenEmployeeIds: [...m.hidden] });
    }
  }
}

class Terminate extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.presentIds.length > m.inactiveIds.length;
  toString = () => `Terminate(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(
      m.presentIds.filter((i) => !m.inactiveIds.includes(i)),
      this.n,
    );
    if (id === undefined) return;
    t.sim.updateEmployee(id, { status: 'inactive', termination_date: new Date().toISOString().slice(0, 10) + 'T00:00:00+01:00' });
    m.changed(id);
  }
}

class Reinstate extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.inactiveIds.length > 0;
  toString = () => `Reinstate(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(m.inactiveIds, this.n);
    if (id === undefined) return;
    t.sim.updateEmployee(id, { status: 'active', termination_date: null });
    m.changed(id);
  }
}

/** Someone who left (or is inactive) comes back as a new employee (new id) with the same address. */
class Rehire extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.leftEmails.size + m.inactiveIds.length > 0;
  toString = () => `Rehire(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const inactive = new Map(t.sim.employees().filter((e) => e.status === 'inactive' && e.email).map((e) => [e.id, e.email as string]));
    const candidates = [...m.leftEmails.values(), ...inactive.values()];
    const email = pick(candidates, this.n);
    if (!email) return;
    const [id] = t.sim.addEmployees(1);
    if (id === undefined) return;
    t.sim.updateEmployee(id, { email });
    m.changed(id);
  }
}

class EmailChange extends PersonioChange {
  constructor(readonly n: number) {
    super();
  }
  toString = () => `EmailChange(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(m.presentIds, this.n);
    if (id === undefined) return;
    t.sim.updateEmployee(id, { email: `renamed-${m.step}-${id}@musterfirma.example` });
    m.changed(id);
  }
}

/** Personio counts the employee in total_elements but shows it on no page. */
class Hide extends PersonioChange {
  constructor(readonly n: number) {
    super();
  }
  toString = () => `Hide(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(
      m.presentIds.filter((i) => !m.hidden.has(i)),
      this.n,
    );
    if (id === undefined) return;
    m.setHidden(id, true);
    t.sim.setKnobs({ hiddenEmployeeIds: [...m.hidden] });
  }
}

class Unhide extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.hidden.size > 0;
  toString = () => `Unhide(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick([...m.hidden], this.n);
    if (id === undefined) return;
    m.setHidden(id, false);
    t.sim.setKnobs({ hiddenEmployeeIds: [...m.hidden] });
  }
}

/**
 * One employee's value that must cost at most that value (or that employee, reported), never a message or a run:
 * an integer beyond 2^53 (as Personio sends it, a string), an employee larger than a message, a character SQS
 * refuses, an unpaired surrogate.
 */
export const POISONS = {
  bigint: ['dynamic_9500', '12345678901234567891'],
  huge: ['dynamic_9000', 'Ü'.repeat(70_000)],
  sqsRefused: ['dynamic_9000', 'Notiz \uFFFF Ende'],
  surrogate: ['position', 'Entwickler \uD800'],
} as const;

class Poison extends PersonioChange {
  constructor(
    readonly kind: keyof typeof POISONS,
    readonly n: number,
  ) {
    super();
  }
  toString = () => `Poison(${this.kind}, #${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(m.presentIds, this.n);
    if (id === undefined) return;
    const [attribute, value] = POISONS[this.kind];
    t.sim.updateEmployee(id, { [attribute]: value });
    m.changed(id);
  }
}

/** The credential loses (or regains) the right to read an attribute the mapping imports. */
class Readable extends PersonioChange {
  constructor(
    readonly attribute: (typeof REVOCABLE_ATTRIBUTES)[number],
    readonly readable: boolean,
  ) {
    super();
  }
  override check = (m: Readonly<Model>) => m.presentIds.length > 0 && m.unreadable.has(this.attribute) === this.readable;
  toString = () => `${this.readable ? 'Readable' : 'Unreadable'}(${this.attribute})`;
  protected async step(m: Model, t: Tenant) {
    if (this.readable) m.unreadable.delete(this.attribute);
    else m.unreadable.add(this.attribute);
    const keys = Object.keys(t.sim.employees()[0]?.attributes ?? {});
    t.sim.setKnobs({ readableAttributes: m.unreadable.size === 0 ? null : keys.filter((k) => !m.unreadable.has(k)) });
  }
}

// ---- delivery ----------------------------------------------------------------------------------------------

function deliveredRuns(batches: PoolMessage[][]): Set<string> {
  return new Set(batches.flat().map((m) => m.runId));
}

/** Lambda's event source: up to `concurrency` invocations at once, each with a batch of up to 10 visible messages. */
class Deliver extends Step {
  constructor(
    readonly concurrency: number,
    readonly order: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.pool.visible > 0;
  toString = () => `Deliver(${this.concurrency} at once, order #${this.order})`;
  protected async step(m: Model, t: Tenant) {
    await t.pool.pump();
    const visible = shuffled(t.pool.visible(), this.order);
    const size = Math.min(BATCH_SIZE, Math.max(1, Math.ceil(visible.length / this.concurrency)));
    const batches: PoolMessage[][] = [];
    for (let i = 0; i < visible.length && batches.length < this.concurrency; i += size) batches.push(visible.slice(i, i + size));
    if (batches.length === 0) return;
    await act(m, t, { deliveredRuns: deliveredRuns(batches) }, () => t.deliver(batches.map((messages) => ({ messages }))));
  }
}

/** SQS hands the same messages to two invocations at once. */
class DeliverTwice extends Step {
  constructor(readonly order: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.pool.visible > 0;
  toString = () => `DeliverTwice(order #${this.order})`;
  protected async step(m: Model, t: Tenant) {
    await t.pool.pump();
    const batch = shuffled(t.pool.visible(), this.order).slice(0, BATCH_SIZE);
    if (batch.length === 0) return;
    await act(m, t, { deliveredRuns: deliveredRuns([batch]) }, () => t.deliver([{ messages: batch }, { messages: batch }]));
  }
}

/** The worker dies (timeout, crash) at its (n+1)th DynamoDB write: the rest of the batch never happens. */
class WorkerDies extends Step {
  constructor(
    readonly afterWrites: number,
    readonly order: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.pool.visible > 0;
  toString = () => `WorkerDies(at write ${this.afterWrites + 1}, order #${this.order})`;
  protected async step(m: Model, t: Tenant) {
    await t.pool.pump();
    const batch = shuffled(t.pool.visible(), this.order).slice(0, BATCH_SIZE);
    if (batch.length === 0) return;
    await act(m, t, { deliveredRuns: deliveredRuns([batch]) }, () => t.deliver([{ messages: batch, killAfterWrites: this.afterWrites }]));
  }
}

/** A message processed and deleted comes back (at-least-once delivery: a duplicate after the delete). */
class Redeliver extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.pool.done > 0;
  toString = () => `Redeliver(#${this.n})`;
  protected async step(_m: Model, t: Tenant) {
    const message = pick(
      t.pool.messages.filter((x) => x.state === 'done'),
      this.n,
    );
    if (message) t.pool.ghost(message);
  }
}

class Delay extends Step {
  constructor(
    readonly n: number,
    readonly minutes: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.pool.queued > 0;
  toString = () => `Delay(#${this.n}, ${this.minutes} min)`;
  protected async step(_m: Model, t: Tenant) {
    const message = pick(
      t.pool.messages.filter((x) => x.state === 'queued'),
      this.n,
    );
    if (message) message.visibleAt = Math.max(message.visibleAt, Date.now()) + this.minutes * MINUTE;
  }
}

class ToDlq extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.pool.queued > 0;
  toString = () => `ToDlq(#${this.n})`;
  protected async step(_m: Model, t: Tenant) {
    const message = pick(
      t.pool.messages.filter((x) => x.state === 'queued'),
      this.n,
    );
    if (message) t.pool.toDlq(message);
  }
}

/** An operator redrives the DLQ (infra/README.md), possibly days later. */
class Redrive extends Step {
  check = (m: Readonly<Model>) => m.pool.inDlq > 0;
  toString = () => 'Redrive';
  protected async step(_m: Model, t: Tenant) {
    t.pool.redrive();
  }
}

// ---- the fetch in the middle of its run -------------------------------------------------------------------

class CloseGate extends Step {
  check = (m: Readonly<Model>) => !m.gateClosed;
  toString = () => 'HoldFetchPages';
  protected async step(_m: Model, t: Tenant) {
    t.gate.close();
  }
}

class OpenGate extends Step {
  check = (m: Readonly<Model>) => m.gateClosed;
  toString = () => 'ReleaseFetchPages';
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, async () => t.gate.open());
  }
}

class KillFetch extends Step {
  check = (m: Readonly<Model>) => m.waitingFetches > 0;
  toString = () => 'KillWaitingFetch';
  protected async step(_m: Model, t: Tenant) {
    t.liveFetches()[0]?.invocation.kill('killed while waiting for Personio');
  }
}

// ---- DynamoDB faults ----------------------------------------------------------------------------------------

export const FAULT_TARGETS = ['run-conflict', 'run-throttle', 'connection-conflict', 'connection-throttle', 'link-conflict', 'user-throttle', 'users-unprocessed'] as const;
type FaultTarget = (typeof FAULT_TARGETS)[number];

class InjectFault extends Step {
  constructor(
    readonly target: FaultTarget,
    readonly count: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.faultRules < 4;
  toString = () => `Fault(${this.target} ×${this.count})`;
  protected async step(_m: Model, t: Tenant) {
    // Only the handlers' calls, never the simulation's own reads.
    const when = () => t.world.invocations.current() !== undefined;
    const base = { count: this.count, when, name: this.target };
    const writes = ['PutItem', 'UpdateItem', 'DeleteItem'];
    const rules: DynamoFaultRule[] = {
      'run-conflict': [
        { ...base, table: localNames.runsTable, skPrefix: 'run#', command: 'TransactWriteItems', fault: 'transactionConflict' as const },
        { ...base, table: localNames.runsTable, skPrefix: 'run#', command: writes, fault: 'transactionConflictException' as const },
      ],
      'run-throttle': [{ ...base, table: localNames.runsTable, command: [...writes, 'TransactWriteItems'], fault: 'provisionedThroughputExceeded' as const }],
      'connection-conflict': [{ ...base, table: localNames.connectionsTable, command: writes, fault: 'transactionConflictException' as const }],
      'connection-throttle': [{ ...base, table: localNames.connectionsTable, fault: 'throttling' as const }],
      'link-conflict': [
        { ...base, table: localNames.usersTable, skPrefix: 'personio#', command: 'TransactWriteItems', fault: 'transactionConflict' as const },
        { ...base, table: localNames.usersTable, skPrefix: 'personio#', command: writes, fault: 'transactionConflictException' as const },
      ],
      'user-throttle': [{ ...base, table: localNames.usersTable, command: writes, fault: 'provisionedThroughputExceeded' as const }],
      'users-unprocessed': [{ ...base, table: localNames.usersTable, command: 'BatchGetItem', fault: 'unprocessedKeys' as const }],
    }[this.target];
    for (const rule of rules) t.world.faults.add(rule);
  }
}

// ---- time -----------------------------------------------------------------------------------------------------

export const TIME_STEPS = [
  ['1 min', MINUTE],
  ['5 min', 5 * MINUTE],
  ['20 min', 20 * MINUTE],
  ['1 h', HOUR],
  ['6 h', 6 * HOUR],
  ['1 day', DAY],
  ['8 days', 8 * DAY],
  ['31 days', 31 * DAY],
] as const;

/** Time passes; the event source delivers what becomes visible meanwhile, unless it is paused. */
class TimePasses extends Step {
  constructor(
    readonly choice: number,
    readonly paused = false,
  ) {
    super();
  }
  check = () => true;
  toString = () => `TimePasses(${TIME_STEPS[this.choice]?.[0]}${this.paused ? ', event source paused' : ''})`;
  protected async step(m: Model, t: Tenant) {
    await passTime(m, t, Date.now() + (TIME_STEPS[this.choice]?.[1] ?? MINUTE), !this.paused);
  }
}

/** Moves the clock to `until`; with `deliver`, the event source delivers each message as it becomes visible on the way. */
async function passTime(m: Model, t: Tenant, until: number, deliver: boolean): Promise<void> {
  for (let round = 0; deliver && round < 60; round++) {
    await t.pool.pump();
    if (t.pool.visible().length > 0) {
      await deliverVisible(m, t);
      continue;
    }
    const next = t.pool.nextVisibleAt();
    if (next === undefined || next > until) break;
    await act(m, t, {}, () => t.world.clock.jumpTo(next));
  }
  await act(m, t, {}, () => t.world.clock.jumpTo(until));
}

/**
 * Everything that can be delivered is (the clock jumps to each message's return), faults are cleared and the fetch's
 * pages released; then the clock passes every lease, the sweeper runs, the next fetch comes (with its messages), and
 * no run that started before all that may be left unfinished.
 */
export class Settle extends Step {
  check = () => true;
  toString = () => 'Settle';
  protected async step(m: Model, t: Tenant) {
    t.world.faults.clear();
    await act(m, t, {}, async () => t.gate.open());
    await deliverEverything(m, t);
    const startedBefore = Date.now();
    await act(m, t, {}, () => t.world.clock.jump(STALL_HORIZON_MS));
    if (m.sweeper) await act(m, t, {}, () => t.sweep());
    const nextFetchAt = Date.now();
    if (m.connection === 'connected') {
      await act(m, t, {}, async () => void t.startFetch({ tenantId: t.id }, 'console'));
      await deliverEverything(m, t);
    }
    await checkStuck(m, t, startedBefore, m.connection === 'connected' ? nextFetchAt : undefined);
  }
}

async function deliverEverything(m: Model, t: Tenant): Promise<void> {
  for (let round = 0; round < 60; round++) {
    await t.pool.pump();
    if (t.pool.visible().length > 0) {
      await deliverVisible(m, t);
      continue;
    }
    const next = t.pool.nextVisibleAt();
    if (next === undefined) return;
    await act(m, t, {}, () => t.world.clock.jumpTo(next));
  }
}

/** One round of the event source: the visible messages in batches of 10, up to 10 invocations at once. */
async function deliverVisible(m: Model, t: Tenant): Promise<void> {
  const visible = t.pool.visible();
  const batches: PoolMessage[][] = [];
  for (let i = 0; i < visible.length && batches.length < MAX_CONCURRENCY; i += BATCH_SIZE) batches.push(visible.slice(i, i + BATCH_SIZE));
  if (batches.length === 0) return;
  await act(m, t, { deliveredRuns: deliveredRuns(batches) }, () => t.deliver(batches.map((messages) => ({ messages }))));
}

// ---- the arbitrary ----------------------------------------------------------------------------------------------

const n = fc.nat({ max: 1_000 });
/** A value one time in four, undefined otherwise (shrinks towards undefined). */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arbitrary });

export function commandArbitrary(): fc.Arbitrary<Cmd> {
  return fc.oneof(
    { weight: 14, arbitrary: fc.tuple(fc.integer({ min: 1, max: MAX_CONCURRENCY }), n).map(([c, o]) => new Deliver(c, o)) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 15 }), fc.constantFrom('none', 'none', 'concurrent', 'later') as fc.Arbitrary<'none' | 'concurrent' | 'later'>, fc.nat({ max: 2 }))
        .map(([w, d, p]) => new ScheduleFires(w, d, p === 0)),
    },
    { weight: 5, arbitrary: fc.constant(new ImportNow()) },
    { weight: 3, arbitrary: sometimes(fc.integer({ min: 0, max: 6 })).map((k) => new ConsoleFetch(k)) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((c) => new Hire(c)) },
    { weight: 3, arbitrary: n.map((i) => new Leave(i)) },
    { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 20, max: 60 }), n).map(([p, i]) => new MassLeave(p, i)) },
    { weight: 3, arbitrary: n.map((i) => new Terminate(i)) },
    { weight: 1, arbitrary: n.map((i) => new Reinstate(i)) },
    { weight: 2, arbitrary: n.map((i) => new Rehire(i)) },
    { weight: 2, arbitrary: n.map((i) => new EmailChange(i)) },
    { weight: 2, arbitrary: n.map((i) => new Hide(i)) },
    { weight: 1, arbitrary: n.map((i) => new Unhide(i)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...REVOCABLE_ATTRIBUTES), fc.boolean()).map(([a, r]) => new Readable(a, r)) },
    { weight: 2, arbitrary: n.map((o) => new DeliverTwice(o)) },
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 12 }), n).map(([w, o]) => new WorkerDies(w, o)) },
    { weight: 2, arbitrary: n.map((i) => new Redeliver(i)) },
    { weight: 2, arbitrary: fc.tuple(n, fc.integer({ min: 1, max: 90 })).map(([i, mins]) => new Delay(i, mins)) },
    { weight: 3, arbitrary: n.map((i) => new ToDlq(i)) },
    // Skipped while the DLQ is empty.
    { weight: 3, arbitrary: fc.constant(new Redrive()) },
    { weight: 2, arbitrary: fc.constant(new CloseGate()) },
    { weight: 2, arbitrary: fc.constant(new OpenGate()) },
    { weight: 2, arbitrary: fc.constant(new KillFetch()) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...FAULT_TARGETS), fc.integer({ min: 1, max: 3 })).map(([f, c]) => new InjectFault(f, c)) },
    {
      weight: 2,
      arbitrary: fc.tuple(n, fc.boolean(), sometimes(fc.integer({ min: 0, max: 4 }))).map(([i, any, k]) => new Approve(i, any && i % 4 === 0, k)),
    },
    // Skipped while no run is held, so it is generated often.
    { weight: 6, arbitrary: fc.tuple(n, sometimes(fc.integer({ min: 0, max: 4 }))).map(([i, k]) => new ApproveHeld(i, k)) },
    { weight: 3, arbitrary: n.map((i) => new LateApproval(i)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...(Object.keys(POISONS) as (keyof typeof POISONS)[])), n).map(([k, i]) => new Poison(k, i)) },
    { weight: 1, arbitrary: fc.constant(new Disconnect()) },
    { weight: 2, arbitrary: fc.constant(new Connect()) },
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: TIME_STEPS.length - 1 }), fc.nat({ max: 2 })).map(([c, p]) => new TimePasses(c, p === 0)) },
    { weight: 1, arbitrary: fc.constant(new Sweep()) },
    { weight: 1, arbitrary: fc.constant(new Settle()) },
  );
}

/** Used by the harness around every sequence. */
export { ConnectWithCustomFields as FirstConnect };

// ---- replaying a printed sequence ----------------------------------------------------------------------------

const parsers: [RegExp, (g: string[]) => Cmd][] = [
  [/^Connect$/, () => new Connect()],
  [/^ConnectWithCustomFields$/, () => new ConnectWithCustomFields()],
  [/^LateApproval\(#(\d+)\)$/, (g) => new LateApproval(Number(g[1]))],
  [/^ApproveHeld\(#(\d+)(?:, dies at DynamoDB write (\d+))?\)$/, (g) => new ApproveHeld(Number(g[1]), g[2] === undefined ? undefined : Number(g[2]) - 1)],
  [/^Poison\((\w+), #(\d+)\)$/, (g) => new Poison(g[1] as keyof typeof POISONS, Number(g[2]))],
  [/^Disconnect$/, () => new Disconnect()],
  [/^ImportNow$/, () => new ImportNow()],
  [/^Sweep$/, () => new Sweep()],
  [/^Settle$/, () => new Settle()],
  [/^Redrive$/, () => new Redrive()],
  [/^HoldFetchPages$/, () => new CloseGate()],
  [/^ReleaseFetchPages$/, () => new OpenGate()],
  [/^KillWaitingFetch$/, () => new KillFetch()],
  [
    /^ScheduleFires\(\+(\d+)min(?:, delivered twice (concurrent|later))?(, event source paused)?\)$/,
    (g) => new ScheduleFires(Number(g[1]), (g[2] as 'concurrent' | 'later' | undefined) ?? 'none', g[3] !== undefined),
  ],
  [/^ConsoleFetch(?:\(dies at DynamoDB write (\d+)\))?$/, (g) => new ConsoleFetch(g[1] === undefined ? undefined : Number(g[1]) - 1)],
  [/^Approve\((any run|a held run) #(\d+)(?:, dies at DynamoDB write (\d+))?\)$/, (g) => new Approve(Number(g[2]), g[1] === 'any run', g[3] === undefined ? undefined : Number(g[3]) - 1)],
  [/^Hire\((\d+)\)$/, (g) => new Hire(Number(g[1]))],
  [/^Leave\(#(\d+)\)$/, (g) => new Leave(Number(g[1]))],
  [/^MassLeave\((\d+) %, #(\d+)\)$/, (g) => new MassLeave(Number(g[1]), Number(g[2]))],
  [/^Terminate\(#(\d+)\)$/, (g) => new Terminate(Number(g[1]))],
  [/^Reinstate\(#(\d+)\)$/, (g) => new Reinstate(Number(g[1]))],
  [/^Rehire\(#(\d+)\)$/, (g) => new Rehire(Number(g[1]))],
  [/^EmailChange\(#(\d+)\)$/, (g) => new EmailChange(Number(g[1]))],
  [/^Hide\(#(\d+)\)$/, (g) => new Hide(Number(g[1]))],
  [/^Unhide\(#(\d+)\)$/, (g) => new Unhide(Number(g[1]))],
  [/^(Readable|Unreadable)\((\w+)\)$/, (g) => new Readable(g[2] as (typeof REVOCABLE_ATTRIBUTES)[number], g[1] === 'Readable')],
  [/^Deliver\((\d+) at once, order #(\d+)\)$/, (g) => new Deliver(Number(g[1]), Number(g[2]))],
  [/^DeliverTwice\(order #(\d+)\)$/, (g) => new DeliverTwice(Number(g[1]))],
  [/^WorkerDies\(at write (\d+), order #(\d+)\)$/, (g) => new WorkerDies(Number(g[1]) - 1, Number(g[2]))],
  [/^Redeliver\(#(\d+)\)$/, (g) => new Redeliver(Number(g[1]))],
  [/^Delay\(#(\d+), (\d+) min\)$/, (g) => new Delay(Number(g[1]), Number(g[2]))],
  [/^ToDlq\(#(\d+)\)$/, (g) => new ToDlq(Number(g[1]))],
  [/^Fault\(([\w-]+) ×(\d+)\)$/, (g) => new InjectFault(g[1] as FaultTarget, Number(g[2]))],
  [/^TimePasses\((.+?)(, event source paused)?\)$/, (g) => new TimePasses(TIME_STEPS.findIndex(([label]) => label === g[1]), g[2] !== undefined)],
];

/** A command from its printed form (as a report shows it). */
export function parseCommand(text: string): Cmd {
  for (const [pattern, make] of parsers) {
    const match = pattern.exec(text.trim());
    if (match) return make(match.map((g) => g ?? undefined) as string[]);
  }
  throw new Error(`not a command: ${text}`);
}
