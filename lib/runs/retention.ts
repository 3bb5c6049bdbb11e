import type { Run } from './run.js';
import type { RunStore } from './store.js';

/**
 * How long the runs table keeps what (DynamoDB's TTL on `expiresAt` deletes an item some time after it passed; until
 * then it is still read, so nothing relies on it being gone):
 * - a run record and its findings: `retentionDays` after the run is final (completed or failed: when it finished;
 *   approved or superseded: when that was decided). A held run has no expiry: it waits for a decision, however long.
 * - a held run's pending deactivations: no expiry while the run waits; once it is decided (approved or superseded)
 *   nothing reads them (the users it deactivated carry `deactivatedInRun`), so their users are removed and they expire
 *   at once (the product's roles may not delete an item: infra/grants.ts).
 * - the progress item: `retentionDays` plus a margin after its last write. It carries no employee data; a failed run's
 *   progress tells whether it superseded an older held run (lib/runs/approve.ts), so it must outlive its run record,
 *   which expires `retentionDays` after the run finished, and runs finish within hours of their last message (leases).
 * - message markers: 30 days after they are written, or `retentionDays` if shorter. They hold employee data (addresses
 *   waiting for the run's completion) and are only needed until the run is final (its record then holds the sums).
 * - schedule firings: 2 days (lib/runs/side-items.ts), far longer than Scheduler's and Lambda's retries of one firing.
 */
export const DEFAULT_RUN_RETENTION_DAYS = 400;
export const PROGRESS_MARGIN_DAYS = 30;
export const MARKER_DAYS = 30;

const DAY_S = 24 * 60 * 60;

/** The TTL value (epoch seconds) `days` after `from`. */
export function expiresAfter(from: Date, days: number): number {
  return Math.floor(from.getTime() / 1000) + days * DAY_S;
}

/**
 * Once a run completes or is held, every older held run is superseded (lib/runs/approve.ts: approving one answers
 * `run_superseded`), so it is decided: it starts expiring and its pending list goes. A held run found only by its
 * pending list (every held run has one, if empty) costs this one query per finished run; runs whose approval is under
 * way are left to it. Pending lists of runs that were decided but whose list outlived the decision (the deciding call
 * died in between) are retired here too.
 */
export async function retireSupersededRuns(runs: RunStore, newer: Run, now: Date): Promise<number> {
  // A delta run saw only the employees webhooks named: it supersedes nobody (lib/runs/approve.ts, supersedingRun).
  if (newer.mode === 'delta') return 0;
  let retired = 0;
  for (const runId of await runs.heldRunIds(newer.tenantId)) {
    if (runId === newer.runId) continue;
    const held = await runs.get(newer.tenantId, runId);
    if (!held) {
      await runs.retirePending(newer.tenantId, runId, now);
      continue;
    }
    if (held.startedAt >= newer.startedAt || held.status === 'approving') continue;
    if (held.status === 'held') {
      if (await runs.retireHeld(newer.tenantId, runId, now)) retired++;
    } else await runs.retirePending(newer.tenantId, runId, now);
  }
  return retired;
}
