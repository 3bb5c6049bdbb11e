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
  schedule: ScheduleSettings;
}

/** Turns the tenant's scheduled imports on or off and sets how often they run. */
export async function setSchedule(deps: ConnectDeps, tenantId: string, input: ScheduleInput, who: Who): Promise<ScheduleResult> {
  const connection = await requireConnection(deps, tenantId);
  const expression = input.every ? scheduleIntervals[input.every] : (connection.schedule?.expression ?? deps.scheduleDefaults.expression);
  const schedule = await putSchedule(deps, tenantId, { enabled: input.enabled, expression }, 'Nothing was changed:');
  await deps.settings.saveSchedule(tenantId, schedule);
  const previous = connection.schedule ? { enabled: connection.schedule.enabled, every: connection.schedule.every } : null;
  await deps.audit.record(tenantId, who, { action: 'schedule_changed', details: { enabled: schedule.enabled, every: schedule.every, previous } }, deps.now());
  return { tenantId, schedule };
}

/** Creates or updates the tenant's schedule; `context` says what already happened when Scheduler fails. */
export async function putSchedule(
  deps: ConnectDeps,
  tenantId: string,
  wanted: { enabled: boolean; expression: string },
  context: string,
): Promise<ScheduleSettings> {
  try {
    const saved = await deps.schedules.put(tenantId, wanted);
    return {
      enabled: saved.enabled,
      every: intervalOf(saved.expression),
      expression: saved.expression,
      flexibleWindowMinutes: saved.flexibleWindowMinutes,
      updatedAt: deps.now().toISOString(),
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
