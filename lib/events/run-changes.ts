import { runPrefix } from '../storage/tables.js';
import { type ChangeEvent, type ChangeRecord, idempotencyKey, occurredAt, type RunDetailType } from './change.js';

/**
 * Run outcome events, from the runs table's stream: a run record (`run#<runId>`) that takes the status completed, held
 * or failed and did not have it before. Every other item of the table (message markers, progress sets, pending
 * deactivations, schedule firings), every other status change (fetching → processing, approving, …), and writes that
 * leave the status as it was (a lease extended, a retention stamp) publish nothing. A run that goes held → approving →
 * held (an approval that stalled and was set back) is held anew, and says so again.
 */

const outcomes: Readonly<Record<string, RunDetailType>> = { completed: 'Run Completed', held: 'Run Held', failed: 'Run Failed' };

export interface RunChangeDetail {
  version: 1;
  idempotencyKey: string;
  tenantId: string;
  runId: string;
  mode: string;
  trigger: string;
  status: 'completed' | 'held' | 'failed';
  /**
   * As on the run record when it took the status. A completed or held run's record holds its final counts; a failed
   * run's holds what was stored before it failed (its messages' counts are summed onto the record only when a run
   * completes or is held; the run report adds them up).
   */
  counts: { created: number; updated: number; unchanged: number; deactivated: number; failed: number };
  occurredAt: string;
  stage: string;
}

/** The run event a runs-table stream record stands for, or undefined when it is not one. */
export function runChangeEvent(record: ChangeRecord, context: { stage: string; now: () => Date }): ChangeEvent | undefined {
  if (!record.keys.sk.startsWith(runPrefix) || record.eventName === 'REMOVE' || !record.newImage) return undefined;
  const status = record.newImage['status'];
  if (typeof status !== 'string' || !Object.hasOwn(outcomes, status)) return undefined;
  if (record.oldImage?.['status'] === status) return undefined;
  const run = record.newImage;
  const time = occurredAt(record, context.now);
  const detail: RunChangeDetail = {
    version: 1,
    idempotencyKey: idempotencyKey(record),
    tenantId: record.keys.tenantId,
    runId: record.keys.sk.slice(runPrefix.length),
    mode: typeof run['mode'] === 'string' ? run['mode'] : 'full',
    trigger: typeof run['trigger'] === 'string' ? run['trigger'] : 'unknown',
    status: status as RunChangeDetail['status'],
    counts: {
      created: count(run, 'created'),
      updated: count(run, 'updated'),
      unchanged: count(run, 'unchanged'),
      deactivated: count(run, 'deactivated'),
      failed: count(run, 'failed'),
    },
    occurredAt: time.toISOString(),
    stage: context.stage,
  };
  return { detailType: outcomes[status] as RunDetailType, detail: { ...detail }, time };
}

const count = (run: Record<string, unknown>, name: string): number => {
  const value = run[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
};
