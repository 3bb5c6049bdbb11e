import { intervalOf, ScheduleError, scheduleIntervals, type ScheduleInterval } from '../schedules/schedules.js';
import type { Who } from './caller.js';
import { requireConnection } from './connection.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';
import type { ScheduleSettings } from './settings.js';

export interface ScheduleInput {
  enabled: boolean;
  /** Omitted: keep the current interval. */
  every?: ScheduleInterval | undefined;
}

export interface ScheduleResult {
  tenantId: string;
  schedule: Required<ScheduleSettings>;
}

/**
 * The schedule a tenant gets when nobody chose one: while its webhooks are active, they bring changes within seconds
 * and the schedule is only the full reconciliation behind them (RECONCILE_SCHEDULE_EXPRESSION, daily by default);
 * without webhooks, the schedule is how changes arrive (SCHEDULE_EXPRESSION, hourly by default).
 */
export function defaultExpression(deps: Pick<ConnectDeps, 'scheduleDefaults' | 'reconcileExpression'>, webhooksActive: boolean): string {
  return webhooksActive ? deps.reconcileExpression : deps.scheduleDefaults.expression;
}

/**
 * Whether the admin chose the tenant's interval. A schedule saved before the rule does not say: it was either the
 * deployment's default of the time (SCHEDULE_EXPRESSION) or an admin's choice.
 */
export function chosenByAdmin(deps: Pick<ConnectDeps, 'scheduleDefaults'>, schedule: ScheduleSettings | undefined): boolean {
  if (!schedule) return false;
  return schedule.chosenByAdmin ?? schedule.expression !== deps.scheduleDefaults.expression;
}

/**
 * Turns the tenant's scheduled imports on or off and sets how often they run. An interval given here is the admin's
 * choice and stays through reconnects; without one, the current interval (and whether an admin chose it) stays.
 */
export async function setSchedule(deps: ConnectDeps, tenantId: string, input: ScheduleInput, who: Who): Promise<ScheduleResult> {
  const connection = await requireConnection(deps, tenantId);
  const expression = input.every
    ? scheduleIntervals[input.every]
    : (connection.schedule?.expression ?? defaultExpression(deps, connection.webhooks?.status === 'active'));
  const admin = input.every !== undefined || chosenByAdmin(deps, connection.schedule);
  const schedule = await putSchedule(deps, tenantId, { enabled: input.enabled, expression, chosenByAdmin: admin }, 'Nothing was changed:');
  await deps.settings.saveSchedule(tenantId, schedule);
  const previous = connection.schedule ? { enabled: connection.schedule.enabled, every: connection.schedule.every } : null;
  await deps.audit.record(tenantId, who, { action: 'schedule_changed', details: { enabled: schedule.enabled, every: schedule.every, previous } }, deps.now());
  return { tenantId, schedule };
}

/** Creates or updates the tenant's schedule; `context` says what already happened when Scheduler fails. */
export async function putSchedule(
  deps: ConnectDeps,
  tenantId: string,
  wanted: { enabled: boolean; expression: string; chosenByAdmin: boolean },
  context: string,
): Promise<Required<ScheduleSettings>> {
  try {
    const saved = await deps.schedules.put(tenantId, { enabled: wanted.enabled, expression: wanted.expression });
    return {
      enabled: saved.enabled,
      every: intervalOf(saved.expression),
      expression: saved.expression,
      flexibleWindowMinutes: saved.flexibleWindowMinutes,
      updatedAt: deps.now().toISOString(),
      chosenByAdmin: wanted.chosenByAdmin,
    };
  } catch (error) {
    if (error instanceof ScheduleError) {
      throw new ConnectError(
        'schedule_unavailable',
        `${context} the import schedule could not be saved (EventBridge Scheduler is unavailable). Send the same request again.`,
      );
    }
    throw error;
  }
}
