import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { RunStore } from '../lib/runs/store.js';
import { sweepStalledRuns, type SweepOutcome } from '../lib/runs/sweep.js';
import { ScheduleTargetRepair } from '../lib/schedules/repair.js';
import { ScheduleError } from '../lib/schedules/schedules.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { UserStore } from '../lib/users/store.js';
import { errorName } from '../lib/util/errors.js';
import { createStoreClient } from './shared/clients.js';
import { createLogger } from './shared/logger.js';
import { countFailedRuns, countRunOutcome, createMetrics, metricNames, MetricUnit } from './shared/metrics.js';

const config = loadConfig([
  'usersTable',
  'connectionsTable',
  'runsTable',
  'deactivationThreshold',
  'stage',
  'runRetentionDays',
  'pauseAfterCredentialFailures',
  'scheduleGroupName',
  'schedulerRoleArn',
  'fetchFunctionArn',
]);
const db = createStoreClient();
const logger = createLogger('personio-sweeper');
const metrics = createMetrics(config.stage);
const deps = {
  connections: new ConnectionStore(db, config.connectionsTable),
  runs: new RunStore(db, config.runsTable, { retentionDays: config.runRetentionDays }),
  users: new UserStore(db, config.usersTable),
  now: () => new Date(),
  deactivationThreshold: config.deactivationThreshold,
};

const scheduleRepair = new ScheduleTargetRepair({
  scheduler: new SchedulerClient({}),
  groupName: config.scheduleGroupName,
  targetArn: config.fetchFunctionArn,
  roleArn: config.schedulerRoleArn,
  now: () => Date.now(),
});
/** The repair starts no schedule this close to the timeout (a cut-short pass resumes next sweep); without a Lambda context (locally), its budget. */
const REPAIR_MARGIN_MS = 30_000;

/**
 * Scheduled every few minutes (the event carries nothing): settles runs whose lease expired, for every tenant, and
 * points tenant schedules that name a replaced fetch or scheduler role back at the current ones. The two run side by
 * side, and neither's failure stops the other.
 */
export const handler = async (_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SweepOutcome> => {
  const deadline = Date.now() + (context ? context.getRemainingTimeInMillis() - REPAIR_MARGIN_MS : REPAIR_MARGIN_MS);
  const [swept, repaired] = await Promise.allSettled([sweepStalledRuns(deps), scheduleRepair.run(deadline)]);
  const repairFailure = reportRepair(repaired);
  if (swept.status === 'rejected') throw swept.reason;
  const outcome = swept.value;
  logger[outcome.failed > 0 ? 'warn' : 'info']('sweep finished', { ...outcome });
  // A stalled run is a failed run (the RunsFailed alarm sees it); runs the sweep finished count as their outcome.
  countFailedRuns(metrics, 'stalled', outcome.settled.stalled);
  countRunOutcome(metrics, 'completed', outcome.settled.completed);
  countRunOutcome(metrics, 'held', outcome.settled.held);
  countFailedRuns(metrics, 'stalled', outcome.settledDeltas.stalled, 'delta');
  countRunOutcome(metrics, 'completed', outcome.settledDeltas.completed, 'delta');
  countRunOutcome(metrics, 'held', outcome.settledDeltas.held, 'delta');
  metrics.addMetric(metricNames.runsStalled, MetricUnit.Count, outcome.settled.stalled + outcome.settledDeltas.stalled);
  metrics.addMetric(metricNames.sweepTenantsFailed, MetricUnit.Count, outcome.failed);
  metrics.publishStoredMetrics();
  // Schedules that may still name a replaced fetch or role import nothing: fail the invocation (the sweeper's error alarm).
  if (repairFailure) throw repairFailure;
  return outcome;
};

/** Logs what the schedule repair did; returns the error to fail the invocation with when schedules may be left broken. */
function reportRepair(result: PromiseSettledResult<Awaited<ReturnType<ScheduleTargetRepair['run']>>>): Error | undefined {
  if (result.status === 'rejected') {
    logger.error('schedule repair failed', { error: errorName(result.reason) });
    return result.reason instanceof Error ? result.reason : new ScheduleError('The import schedules could not be repaired.');
  }
  const repair = result.value;
  // A repair means the fetch or the scheduler role was replaced: worth a line every time it happens.
  logger[repair.repaired > 0 || repair.failures.length > 0 ? 'warn' : 'info']('schedules checked', { ...repair });
  if (repair.failures.length === 0) return undefined;
  return new ScheduleError(
    `${repair.failures.length} import schedule(s) may still name a replaced fetch function or scheduler role (${repair.failures[0]?.error}); the next sweep tries again.`,
  );
}
