import type { Model } from '../model.js';
import { act } from '../step.js';
import type { Tenant } from '../world.js';
import { shuffled, Step } from './step.js';

/**
 * Personio's webhooks name some employees (maybe one who has since left Personio: the refresh reads 404), and the
 * refresh re-reads them as a delta run, whenever it comes: during a full run's fetch, between its messages, before an
 * approval. The delta run saw exactly those it read; it never judges anyone else.
 */
export class Webhook extends Step {
  constructor(
    readonly count: number,
    readonly n: number,
    readonly withGone: boolean,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.connection === 'connected' && (m.presentIds.length > 0 || this.withGone);
  toString = () => `Webhook(${this.count} employee(s), #${this.n}${this.withGone ? ', one gone from Personio' : ''})`;
  protected async step(m: Model, t: Tenant) {
    const ids = shuffled(m.presentIds, this.n).slice(0, this.count);
    const gone = [...m.employees.values()].filter((e) => e.removedAt !== undefined).map((e) => e.id);
    if (this.withGone && gone.length > 0) ids.push(gone[this.n % gone.length] as number);
    if (ids.length === 0) return;
    const known = new Set(m.runs.keys());
    await act(m, t, {}, () => t.refresh(ids));
    for (const run of m.runs.values()) {
      if (known.has(run.runId) || run.mode !== 'delta') continue;
      run.readIds = new Set(ids);
      run.fetchStart = m.step;
      run.fetchEnd = m.step;
      t.world.coverage.add(this.withGone ? 'delta runs with an employee gone from Personio' : 'delta runs');
    }
  }
}
