import { loadConfig } from '../lib/config.js';
import { RunStore } from '../lib/runs/store.js';
import { sweepStalledRuns } from '../lib/runs/sweep.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { UserStore } from '../lib/users/store.js';
import { createStoreClient } from './shared/clients.js';
import { createLogger } from './shared/logger.js';

const config = loadConfig(['usersTable', 'connectionsTable', 'runsTable', 'deactivationThreshold']);
const db = createStoreClient();
const logger = createLogger('personio-sweeper');
const deps = {
  connections: new ConnectionStore(db, config.connectionsTable),
  runs: new RunStore(db, config.runsTable),
  users: new UserStore(db, config.usersTable),
  now: () => new Date(),
  deactivationThreshold: config.deactivationThreshold,
};

/** Scheduled every few minutes: settles runs whose lease expired, for every tenant (the event carries nothing). */
export const handler = async (): Promise<{ tenants: number; failed: number }> => {
  const outcome = await sweepStalledRuns(deps);
  logger[outcome.failed > 0 ? 'warn' : 'info']('sweep finished', { ...outcome });
  return outcome;
};
