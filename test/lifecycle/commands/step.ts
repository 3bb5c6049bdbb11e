import type fc from 'fast-check';
import type { Model } from '../model.js';
import { beginStep, endStep } from '../step.js';
import type { Tenant } from '../world.js';

/**
 * The operations a sequence is made of. Each is one step: it changes Personio, calls the API, invokes a handler,
 * delivers messages, injects a fault or moves the clock, then the invariants are checked. Choices that name an
 * employee, a message or a run are indices taken modulo what exists when the command runs, so a shrunk sequence stays
 * meaningful.
 */

export type Cmd = fc.AsyncCommand<Model, Tenant>;

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);

export function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export abstract class Step implements Cmd {
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
