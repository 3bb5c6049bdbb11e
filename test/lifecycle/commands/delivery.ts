import { BATCH_SIZE, type PoolMessage } from '../delivery.js';
import type { Model } from '../model.js';
import { act } from '../step.js';
import type { Tenant } from '../world.js';
import { MINUTE, pick, shuffled, Step } from './step.js';

/** Message delivery as Lambda's SQS event source does it, and the fetch stopped in the middle of its run. */

export function deliveredRuns(batches: PoolMessage[][]): Set<string> {
  return new Set(batches.flat().map((m) => m.runId));
}

/** Lambda's event source: up to `concurrency` invocations at once, each with a batch of up to 10 visible messages. */
export class Deliver extends Step {
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
export class DeliverTwice extends Step {
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
export class WorkerDies extends Step {
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
export class Redeliver extends Step {
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

export class Delay extends Step {
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

export class ToDlq extends Step {
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
export class Redrive extends Step {
  check = (m: Readonly<Model>) => m.pool.inDlq > 0;
  toString = () => 'Redrive';
  protected async step(_m: Model, t: Tenant) {
    t.pool.redrive();
  }
}

// ---- the fetch in the middle of its run ----

export class CloseGate extends Step {
  check = (m: Readonly<Model>) => !m.gateClosed;
  toString = () => 'HoldFetchPages';
  protected async step(_m: Model, t: Tenant) {
    t.gate.close();
  }
}

export class OpenGate extends Step {
  check = (m: Readonly<Model>) => m.gateClosed;
  toString = () => 'ReleaseFetchPages';
  protected async step(m: Model, t: Tenant) {
    await act(m, t, {}, async () => t.gate.open());
  }
}

export class KillFetch extends Step {
  check = (m: Readonly<Model>) => m.waitingFetches > 0;
  toString = () => 'KillWaitingFetch';
  protected async step(_m: Model, t: Tenant) {
    t.liveFetches()[0]?.invocation.kill('killed while waiting for Personio');
  }
}
