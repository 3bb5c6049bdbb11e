import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { intervalOf, ScheduleError, scheduleName, type ScheduleService, type TenantSchedule, type TenantScheduleInput } from './schedules.js';
import { errorName } from '../util/errors.js';

export interface EventBridgeSchedulesOptions {
  groupName: string;
  /** The role Scheduler assumes to invoke the target. */
  roleArn: string;
  /** The fetch function's ARN; each schedule sends it `{"tenantId": "…"}`. */
  targetArn: string;
  /** 0 = exact time (Mode OFF). */
  flexibleWindowMinutes: number;
}

/**
 * One EventBridge Scheduler schedule per tenant in the product's group. Create-or-update: CreateSchedule,
 * and UpdateSchedule (a full replacement) when it exists; delete ignores a schedule that is gone.
 */
export class EventBridgeSchedules implements ScheduleService {
  constructor(
    private readonly client: Pick<SchedulerClient, 'send'>,
    private readonly options: EventBridgeSchedulesOptions,
  ) {}

  async put(tenantId: string, schedule: TenantScheduleInput): Promise<TenantSchedule> {
    const input = this.input(tenantId, schedule);
    try {
      try {
        await this.client.send(new CreateScheduleCommand(input));
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error;
        await this.client.send(new UpdateScheduleCommand(input));
      }
    } catch (error) {
      throw wrap(error, 'save', input.Name);
    }
    return { ...schedule, every: intervalOf(schedule.expression), name: input.Name, flexibleWindowMinutes: this.options.flexibleWindowMinutes };
  }

  async get(tenantId: string): Promise<TenantSchedule | undefined> {
    const name = scheduleName(tenantId);
    try {
      const found = await this.client.send(new GetScheduleCommand({ Name: name, GroupName: this.options.groupName }));
      const expression = found.ScheduleExpression ?? '';
      return {
        enabled: found.State !== 'DISABLED',
        expression,
        every: intervalOf(expression),
        name,
        flexibleWindowMinutes: found.FlexibleTimeWindow?.Mode === 'FLEXIBLE' ? (found.FlexibleTimeWindow.MaximumWindowInMinutes ?? 0) : 0,
      };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw wrap(error, 'read', name);
    }
  }

  async delete(tenantId: string): Promise<void> {
    const name = scheduleName(tenantId);
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.options.groupName }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      throw wrap(error, 'delete', name);
    }
  }

  private input(tenantId: string, schedule: TenantScheduleInput): CreateScheduleCommandInput & { Name: string } {
    const minutes = this.options.flexibleWindowMinutes;
    return {
      Name: scheduleName(tenantId),
      GroupName: this.options.groupName,
      Description: `Personio import of Dado tenant ${tenantId}`,
      ScheduleExpression: schedule.expression,
      State: schedule.enabled ? 'ENABLED' : 'DISABLED',
      FlexibleTimeWindow: minutes > 0 ? { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes } : { Mode: 'OFF' },
      Target: {
        Arn: this.options.targetArn,
        RoleArn: this.options.roleArn,
        // The firing's own time, the same on every delivery of it: the fetch starts one run per firing.
        Input: JSON.stringify({ tenantId, scheduledAt: '<aws.scheduler.scheduled-time>' }),
        // A run that could not start within the hour is replaced by the next one anyway.
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 5 },
      },
    };
  }
}

function wrap(error: unknown, action: string, name: string): ScheduleError {
  return new ScheduleError(`EventBridge Scheduler could not ${action} the import schedule ${name} (${errorName(error)}).`, { cause: error });
}
