import { scheduleIntervals, type ScheduleInterval } from '../schedules/schedules.js';
import { putSchedule, requireConnection } from './connect-tenant.js';
import type { ConnectDeps } from './deps.js';
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
export async function setSchedule(deps: ConnectDeps, tenantId: string, input: ScheduleInput): Promise<ScheduleResult> {
  const connection = await requireConnection(deps, tenantId);
  const expression = input.every ? scheduleIntervals[input.every] : (connection.schedule?.expression ?? deps.scheduleDefaults.expression);
  const schedule = await putSchedule(deps, tenantId, { enabled: input.enabled, expression }, 'Nothing was changed:');
  await deps.settings.saveSchedule(tenantId, schedule);
  return { tenantId, schedule };
}
