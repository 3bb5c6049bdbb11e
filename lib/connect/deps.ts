import type { PersonioClientOptions } from '../personio/client.js';
import type { FetchInvoker } from '../imports/invoker.js';
import type { RunStore } from '../runs/store.js';
import type { ScheduleService } from '../schedules/schedules.js';
import type { ConnectionStore } from '../tenants/connections.js';
import type { UserStore } from '../users/store.js';
import type { AuditTrail } from './audit.js';
import type { CredentialsVault } from './credentials.js';
import type { ConnectSettingsStore } from './settings.js';

/** Everything the connect API talks to; functions/connect.ts wires the real ones, tests the local stack's. */
export interface ConnectDeps {
  connections: ConnectionStore;
  settings: ConnectSettingsStore;
  credentials: CredentialsVault;
  runs: RunStore;
  users: UserStore;
  schedules: ScheduleService;
  imports: FetchInvoker;
  /** Who changed what: every change the API makes is recorded here once it succeeded. */
  audit: AuditTrail;
  /** IAM role ARNs that may call the API (ALLOWED_CALLER_ARNS); empty lets nobody in. */
  allowedCallers: readonly string[];
  /** The deployment's Personio: a tenant can never choose the base URL. */
  personio: Pick<PersonioClientOptions, 'baseUrl' | 'appId'> & Partial<Pick<PersonioClientOptions, 'fetch' | 'timeoutMs'>>;
  /** The schedule of a newly connected tenant (SCHEDULE_EXPRESSION) and the flexible window of every schedule. */
  scheduleDefaults: { expression: string; flexibleWindowMinutes: number };
  /** The default schedule of a tenant whose webhooks are active: the full reconciliation behind them (RECONCILE_SCHEDULE_EXPRESSION). */
  reconcileExpression: string;
  /**
   * Where Personio delivers a tenant's webhooks: `<baseUrl><tenantId>` (WEBHOOK_BASE_URL, ending with
   * /webhooks/personio/). Undefined: connect registers none and every tenant imports on the schedule.
   */
  webhooks: { baseUrl: string | undefined };
  /** Approving a held run applies the same guard settings as the worker. */
  deactivationThreshold: number;
  now: () => Date;
}
