import {
  GetScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  type ScheduleSummary,
  type SchedulerClient,
  UpdateScheduleCommand,
  type GetScheduleCommandOutput,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { forEachLimited } from '../util/concurrency.js';
import { errorName } from '../util/errors.js';
import { SCHEDULE_NAME_PREFIX, ScheduleError } from './schedules.js';

export interface ScheduleRepairDeps {
  scheduler: Pick<SchedulerClient, 'send'>;
  groupName: string;
  /** The deployment's current fetch function: what every tenant schedule must invoke. */
  targetArn: string;
  /** The deployment's current scheduler role: what every tenant schedule must invoke it as. */
  roleArn: string;
  now: () => number;
}

export interface ScheduleRepairOptions {
  /**
   * Read every schedule (GetSchedule), not only those whose listed target differs: the listing carries a schedule's
   * target but not its role, so only a full pass finds a schedule that names a replaced role.
   */
  full: boolean;
  /** Epoch ms after which no further schedule is started; the pass then reports itself incomplete. */
  deadline: number;
}

export interface ScheduleRepairOutcome {
  /** The product's schedules in the group. */
  schedules: number;
  /** Read in full: those whose listed target differed, or every one on a full pass. */
  inspected: number;
  /** Pointed back at the current target and role, everything else kept. */
  repaired: number;
  /** Deleted between the listing and the repair (a tenant disconnected meanwhile): nothing to repair. */
  gone: number;
  /** Schedules whose read or update failed, and the error's name; the next sweep tries them again. */
  failures: { name: string; error: string }[];
  /** False when the deadline cut the pass short; the next sweep starts over. */
  complete: boolean;
}

/** Reads and updates at once: a one-time repair of thousands of schedules fits a sweep, far below Scheduler's rate quotas. */
const CONCURRENCY = 8;
const PAGE_SIZE = 100;

/**
 * Every tenant schedule stores the fetch's ARN and the scheduler role's ARN (lib/schedules/eventbridge.ts). A deploy that
 * replaces either (a renamed construct, a new physical name) leaves every existing schedule pointing at something
 * deleted, and nothing would say so but dropped invocations. This points each such schedule back at the current ones,
 * keeping everything else as it is (expression, time zone, window, state, input, retry policy, description).
 *
 * Scheduler has no conditional update: a change connect makes to a schedule between this pass's read and its update
 * would be overwritten with what was read. The window is one request long, and only open while schedules need repair.
 */
export async function repairScheduleTargets(deps: ScheduleRepairDeps, options: ScheduleRepairOptions): Promise<ScheduleRepairOutcome> {
  const outcome: ScheduleRepairOutcome = { schedules: 0, inspected: 0, repaired: 0, gone: 0, failures: [], complete: true };
  const listing = await listSchedules(deps, options.deadline);
  outcome.schedules = listing.schedules.length;
  outcome.complete = listing.complete;

  const suspects = listing.schedules.filter((s) => options.full || s.Target?.Arn !== deps.targetArn);
  await forEachLimited(suspects, CONCURRENCY, async (summary) => {
    const name = summary.Name as string;
    if (deps.now() > options.deadline) {
      outcome.complete = false;
      return;
    }
    try {
      const result = await repairOne(deps, name);
      outcome.inspected++;
      if (result === 'repaired') outcome.repaired++;
      if (result === 'gone') outcome.gone++;
    } catch (error) {
      outcome.failures.push({ name, error: errorName(error) });
    }
  });
  return outcome;
}

async function listSchedules(deps: ScheduleRepairDeps, deadline: number): Promise<{ schedules: ScheduleSummary[]; complete: boolean }> {
  const schedules: ScheduleSummary[] = [];
  let token: string | undefined;
  do {
    if (deps.now() > deadline) return { schedules, complete: false };
    try {
      const page = await deps.scheduler.send(
        new ListSchedulesCommand({ GroupName: deps.groupName, NamePrefix: SCHEDULE_NAME_PREFIX, MaxResults: PAGE_SIZE, NextToken: token }),
      );
      schedules.push(...(page.Schedules ?? []).filter((s) => s.Name !== undefined));
      token = page.NextToken;
    } catch (error) {
      throw new ScheduleError(`EventBridge Scheduler could not list the import schedules of group ${deps.groupName} (${errorName(error)}).`, {
        cause: error,
      });
    }
  } while (token);
  return { schedules, complete: true };
}

async function repairOne(deps: ScheduleRepairDeps, name: string): Promise<'repaired' | 'correct' | 'gone'> {
  try {
    const found = await deps.scheduler.send(new GetScheduleCommand({ Name: name, GroupName: deps.groupName }));
    if (found.Target?.Arn === deps.targetArn && found.Target.RoleArn === deps.roleArn) return 'correct';
    await deps.scheduler.send(new UpdateScheduleCommand(repairedInput(deps, name, found)));
    return 'repaired';
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return 'gone';
    throw error;
  }
}

/** UpdateSchedule replaces the whole schedule: everything it was, with the current target and role. */
function repairedInput(deps: ScheduleRepairDeps, name: string, found: GetScheduleCommandOutput): UpdateScheduleCommandInput {
  if (!found.Target || !found.ScheduleExpression || !found.FlexibleTimeWindow)
    throw new ScheduleError(`EventBridge Scheduler returned the import schedule ${name} without its target, expression or window.`);
  return {
    Name: name,
    GroupName: deps.groupName,
    ScheduleExpression: found.ScheduleExpression,
    ScheduleExpressionTimezone: found.ScheduleExpressionTimezone,
    // Scheduler refuses a start date in the past; a schedule that has started already is the same without one.
    StartDate: found.StartDate && found.StartDate.getTime() > deps.now() ? found.StartDate : undefined,
    EndDate: found.EndDate,
    Description: found.Description,
    State: found.State,
    KmsKeyArn: found.KmsKeyArn,
    FlexibleTimeWindow: found.FlexibleTimeWindow,
    ActionAfterCompletion: found.ActionAfterCompletion,
    Target: { ...found.Target, Arn: deps.targetArn, RoleArn: deps.roleArn },
  };
}

/**
 * The repair as the sweeper runs it, every sweep period: the listing catches a replaced fetch (the target's ARN is in
 * it) at the cost of a few list pages; a replaced role shows only in each schedule's full record, so the first pass of
 * an execution environment, and every pass until one completes, reads every schedule. A deploy that replaces the role
 * changes the sweeper's SCHEDULER_ROLE_ARN, and Lambda runs a changed configuration in new execution environments, so
 * the first sweep after such a deploy is a full one.
 */
export class ScheduleTargetRepair {
  private fullPassDone = false;

  constructor(private readonly deps: ScheduleRepairDeps) {}

  async run(deadline: number): Promise<ScheduleRepairOutcome & { full: boolean }> {
    const full = !this.fullPassDone;
    const outcome = await repairScheduleTargets(this.deps, { full, deadline });
    if (full && outcome.complete && outcome.failures.length === 0) this.fullPassDone = true;
    return { ...outcome, full };
  }
}
