import { BATCH_SIZE, MAX_CONCURRENCY, type PoolMessage } from '../delivery.js';
import type { Model } from '../model.js';
import { act, checkStuck } from '../step.js';
import type { Tenant } from '../world.js';
import { deliveredRuns } from './delivery.js';
import { DAY, HOUR, MINUTE, Step } from './step.js';

/** Past every lease (lib/runs/lease.ts: the fetch's 15 min + 1, processing 45 min after the fetch) and a sweep. */
export const STALL_HORIZON_MS = 2 * HOUR;

/** Time passing (leases, visibility timeouts, TTLs) and the settle every sequence ends with. */

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
export class TimePasses extends Step {
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
export async function passTime(m: Model, t: Tenant, until: number, deliver: boolean): Promise<void> {
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

export async function deliverEverything(m: Model, t: Tenant): Promise<void> {
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
export async function deliverVisible(m: Model, t: Tenant): Promise<void> {
  const visible = t.pool.visible();
  const batches: PoolMessage[][] = [];
  for (let i = 0; i < visible.length && batches.length < MAX_CONCURRENCY; i += BATCH_SIZE) batches.push(visible.slice(i, i + BATCH_SIZE));
  if (batches.length === 0) return;
  await act(m, t, { deliveredRuns: deliveredRuns(batches) }, () => t.deliver(batches.map((messages) => ({ messages }))));
}
