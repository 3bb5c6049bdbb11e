import { createHash } from 'node:crypto';
import { CodedError } from '../util/errors.js';

/**
 * How often a tenant's import runs: a fixed set an admin picks from, each an EventBridge Scheduler rate
 * expression. A deployment's default (SCHEDULE_EXPRESSION) may be any rate() or cron(); it shows as `custom`.
 */
export const scheduleIntervals = {
  hourly: 'rate(1 hour)',
  'every-3-hours': 'rate(3 hours)',
  'every-6-hours': 'rate(6 hours)',
  'every-12-hours': 'rate(12 hours)',
  daily: 'rate(1 day)',
  weekly: 'rate(7 days)',
} as const;

export type ScheduleInterval = keyof typeof scheduleIntervals;
export const scheduleIntervalNames = Object.keys(scheduleIntervals) as [ScheduleInterval, ...ScheduleInterval[]];

export function intervalOf(expression: string): ScheduleInterval | 'custom' {
  const found = (Object.entries(scheduleIntervals) as [ScheduleInterval, string][]).find(([, e]) => e === expression);
  return found ? found[0] : 'custom';
}

/** What connect asks for. */
export interface TenantScheduleInput {
  enabled: boolean;
  expression: string;
}

/** What a tenant's schedule is. */
export interface TenantSchedule extends TenantScheduleInput {
  every: ScheduleInterval | 'custom';
  /** The schedule's name in its group (derived from the tenant id). */
  name: string;
  /** Runs start anywhere within this many minutes after the scheduled time (0 = exactly then). */
  flexibleWindowMinutes: number;
}

/** The tenant schedules, behind an interface so lib/connect needs no Scheduler SDK (and its tests no mock). */
export interface ScheduleService {
  /** Creates the tenant's schedule, or updates it when it exists. */
  put(tenantId: string, schedule: TenantScheduleInput): Promise<TenantSchedule>;
  get(tenantId: string): Promise<TenantSchedule | undefined>;
  /** Deletes the tenant's schedule; a schedule that does not exist is already deleted. */
  delete(tenantId: string): Promise<void>;
}

export class ScheduleError extends CodedError<'schedule_unavailable'> {
  override readonly name = 'ScheduleError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('schedule_unavailable', message, options);
  }
}

const MAX_NAME = 64;
/** Every tenant schedule's name starts with this; nothing else in the group is the product's. */
export const SCHEDULE_NAME_PREFIX = 'personio-';

/**
 * The schedule's name: `personio-<tenantId>`, from a validated tenant id (lower-case letters, digits and
 * hyphens, all allowed in schedule names). Scheduler allows 64 characters; a longer tenant id keeps a
 * prefix and adds a hash of the whole id, so the name stays unique and stable. The hash is joined with `.`,
 * which no tenant id contains: with `-`, the short tenant id `<prefix>-<hash>` would get the long tenant's
 * name, and its connect and disconnect would overwrite and delete the other tenant's schedule.
 */
export function scheduleName(tenantId: string): string {
  const plain = `${SCHEDULE_NAME_PREFIX}${tenantId}`;
  if (plain.length <= MAX_NAME) return plain;
  const hash = createHash('sha256').update(tenantId).digest('hex').slice(0, 8);
  return `${SCHEDULE_NAME_PREFIX}${tenantId.slice(0, MAX_NAME - SCHEDULE_NAME_PREFIX.length - 9)}.${hash}`;
}
