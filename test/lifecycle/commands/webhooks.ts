import type { HandledEvent } from '../../../lib/webhooks/change.js';
import type { Model } from '../model.js';
import { InvariantViolation } from '../observe.js';
import { act } from '../step.js';
import type { Tenant } from '../world.js';
import { shuffled, Step } from './step.js';

/**
 * Personio's webhooks name some employees (maybe one who has since left Personio: the refresh reads 404), and the
 * refresh re-reads them as a delta run, whenever it comes: during a full run's fetch, between its messages, before an
 * approval. The delta run saw exactly those it read; it never judges anyone else. The one gone from Personio is named
 * with person.deleted (its user is deactivated, under the guard), or, for an odd #, with person.updated: a 404 without
 * a deletion deactivates nobody (the daily reconciliation decides), which this step checks itself.
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
    const read = shuffled(m.presentIds, this.n).slice(0, this.count);
    const changes: { personId: number; event: HandledEvent }[] = read.map((personId) => ({ personId, event: 'person.updated' }));
    const gone = [...m.employees.values()].filter((e) => e.removedAt !== undefined).map((e) => e.id);
    const goneId = this.withGone && gone.length > 0 ? (gone[this.n % gone.length] as number) : undefined;
    const misnamed = this.n % 2 === 1;
    if (goneId !== undefined) changes.push({ personId: goneId, event: misnamed ? 'person.updated' : 'person.deleted' });
    if (changes.length === 0) return;
    const known = new Set(m.runs.keys());
    await act(m, t, {}, () => t.refresh(changes));
    const opened: string[] = [];
    for (const run of m.runs.values()) {
      if (known.has(run.runId) || run.mode !== 'delta') continue;
      opened.push(run.runId);
      // Only those Personio answered: a 404 is no sighting.
      run.readIds = new Set(read);
      run.fetchStart = m.step;
      run.fetchEnd = m.step;
      const label =
        goneId === undefined ? 'delta runs' : misnamed ? 'delta runs naming a gone employee as updated' : 'delta runs with an employee gone from Personio';
      t.world.coverage.add(label);
    }
    if (goneId === undefined || !misnamed || opened.length === 0) return;
    const user = (await t.users()).find((u) => u['personioId'] === goneId);
    if (user && opened.includes(String(user['deactivatedInRun'])))
      throw new InvariantViolation(
        'inv1 a 404 deactivates only a deletion',
        `delta run ${String(user['deactivatedInRun'])} deactivated the user of employee ${goneId}, named only with person.updated`,
      );
  }
}
