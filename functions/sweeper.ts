import { loadConfig } from '../lib/config.js';
import { RunStore } from '../lib/runs/store.js';
import { sweepStalledRuns, type SweepOutcome } from '../lib/runs/sweep.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { UserStore } from '../lib/users/store.js';
import { createStoreClient } from './shared/clients.js';
import { createLogger } from './shared/logger.js';
import { countRunOutcome, createMetrics, metricNames, MetricUnit } from './shared/metrics.js';

const config = loadConfig([
  'usersTable',
  'connectionsTable',
  'runsTable',
  'deactivationThreshold',
  'stage',
  'runRetentionDays',
  'pauseAfterCredentialFailures',
]);
const db = createStoreClient();
const logger = createLogger('personio-sweeper');
const metrics = createMetrics();
const deps = {
  connections: new ConnectionStore(db, config.connectionsTable),
  runs: new RunStore(db, config.runsTable),
  users: new UserStore(db, config.usersTable),
  now: () => new Date(),
  deactivationThreshold: config.deactivationThreshold,
};

/** Scheduled every few minutes: settles runs whose lease expired, for every tenant (the event carries nothing). */
export const handler = async (): Promise<SweepOutcome> => {
  const outcome = await sweepStalledRuns(deps);
  logger[outcome.failed > 0 ? 'warn' : 'info']('sweep finished', { ...outcome });
  // A stalled run is a failed run (the RunsFailed alarm sees it); runs the sweep finished count as their outcome.
  for (let i = 0; i < outcome.settled.stalled; i++) countRunOutcome(metrics, 'failed');
  for (let i = 0; i < outcome.settled.completed; i++) countRunOutcome(metrics, 'completed');
  for (let i = 0; i < outcome.settled.held; i++) countRunOutcome(metrics, 'held');
  metrics.addMetric(metricNames.runsStalled, MetricUnit.Count, outcome.settled.stalled);
  metrics.addMetric(metricNames.sweepTenantsFailed, MetricUnit.Count, outcome.failed);
  metrics.publishStoredMetrics();
  return outcome;
};
