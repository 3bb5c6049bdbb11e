import type { Model } from '../model.js';
import { act } from '../step.js';
import type { Tenant } from '../world.js';
import { DAY, HOUR, MINUTE, pick, Step } from './step.js';
import { passTime } from './time.js';

/** The tenant and its imports: connect, schedule firings, console fetches, "import now", approvals, the sweeper. */

export class Connect extends Step {
  check = (m: Readonly<Model>) => m.connection !== 'connected';
  toString = () => 'Connect';
  protected async step(m: Model, t: Tenant) {
    const answer = await act(m, t, {}, () => t.connect());
    if (answer.status === 200) m.connection = 'connected';
  }
}

/** The first connect of a sequence: connect, then map the simulator's custom attributes onto custom fields. */
export class ConnectWithCustomFields extends Step {
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

export class Disconnect extends Step {
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
export class ScheduleFires extends Step {
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
export class ConsoleFetch extends Step {
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
export class ImportNow extends Step {
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
export class Approve extends Step {
  constructor(
    readonly n: number,
    readonly anyRun: boolean,
    readonly killAfterWrites?: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.runs.size > 0;
  toString = () =>
    `Approve(${this.anyRun ? 'any run' : 'a held run'} #${this.n}${this.killAfterWrites === undefined ? '' : `, dies at DynamoDB write ${this.killAfterWrites + 1}`})`;
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
export class ApproveHeld extends Approve {
  constructor(n: number, killAfterWrites?: number) {
    super(n, false, killAfterWrites);
  }
  override check = (m: Readonly<Model>) => [...m.runs.values()].some((r) => r.status === 'held');
  override toString = () => `ApproveHeld(#${this.n}${this.killAfterWrites === undefined ? '' : `, dies at DynamoDB write ${this.killAfterWrites + 1}`})`;
}

/** A held run is approved a month later: after its message markers' TTL. */
export class LateApproval extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => [...m.runs.values()].some((r) => r.status === 'held');
  toString = () => `LateApproval(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, () => t.world.clock.jump(31 * DAY));
    const held = [...m.runs.values()].filter((r) => r.status === 'held');
    const run =
      this.n % 4 === 0 ? pick(held, this.n) : held.reduce<(typeof held)[number] | undefined>((a, b) => (!a || b.fetchStart > a.fetchStart ? b : a), undefined);
    if (run) await act(m, t, { approval: run.runId }, () => t.approve(run.runId));
  }
}

export class Sweep extends Step {
  check = (m: Readonly<Model>) => m.sweeper;
  toString = () => 'Sweep';
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, () => t.sweep());
  }
}
