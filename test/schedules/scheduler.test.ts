import 'aws-sdk-client-mock-vitest/extend';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ThrottlingException,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeSchedules } from '../../lib/schedules/eventbridge.js';
import { intervalOf, ScheduleError, scheduleIntervals, scheduleName } from '../../lib/schedules/schedules.js';
import { tenantIdSchema } from '../../lib/tenants/tenant-id.js';

// The only place an SDK mock is used: EventBridge Scheduler has no local emulator (its stand-in, tested in
// test/local/scheduler-standin.test.ts, speaks the wire protocol; this checks the adapter's calls and error handling).

const options = {
  groupName: 'dado-imports',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
  targetArn: 'arn:aws:lambda:eu-central-1:123456789012:function:fetch',
  flexibleWindowMinutes: 15,
};
const meta = { $metadata: {}, message: 'x', Message: 'x' };

describe('the EventBridge Scheduler adapter', () => {
  const scheduler = mockClient(SchedulerClient);
  const schedules = () => new EventBridgeSchedules(new SchedulerClient({ region: 'eu-central-1' }), options);

  beforeEach(() => scheduler.reset());

  it('creates a tenant schedule in the group, targeting the fetch with the tenant id, in a flexible window', async () => {
    // Prepare
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });

    // Act
    const result = await schedules().put('acme', { enabled: true, expression: 'rate(1 hour)' });

    // Assess
    expect(scheduler).toHaveReceivedCommandExactlyOnceWith(CreateScheduleCommand, {
      Name: 'personio-acme',
      GroupName: 'dado-imports',
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
      Target: expect.objectContaining({
        Arn: options.targetArn,
        RoleArn: options.roleArn,
        Input: '{"tenantId":"acme","scheduledAt":"<aws.scheduler.scheduled-time>"}',
      }),
    });
    expect(scheduler).not.toHaveReceivedCommand(UpdateScheduleCommand);
    expect(result).toEqual({ enabled: true, expression: 'rate(1 hour)', every: 'hourly', name: 'personio-acme', flexibleWindowMinutes: 15 });
  });

  it('updates the schedule when it exists already (ConflictException)', async () => {
    // Prepare
    scheduler.on(CreateScheduleCommand).rejects(new ConflictException(meta));
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn' });

    // Act
    await schedules().put('acme', { enabled: false, expression: 'rate(1 day)' });

    // Assess
    expect(scheduler).toHaveReceivedCommandExactlyOnceWith(UpdateScheduleCommand, {
      Name: 'personio-acme',
      GroupName: 'dado-imports',
      ScheduleExpression: 'rate(1 day)',
      State: 'DISABLED',
    });
  });

  it('runs at the exact time when the flexible window is 0', async () => {
    // Prepare
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });

    // Act
    await new EventBridgeSchedules(new SchedulerClient({ region: 'eu-central-1' }), { ...options, flexibleWindowMinutes: 0 }).put('acme', {
      enabled: true,
      expression: 'rate(1 hour)',
    });

    // Assess
    expect(scheduler).toHaveReceivedCommandWith(CreateScheduleCommand, { FlexibleTimeWindow: { Mode: 'OFF' } });
  });

  it('reads a schedule back, and answers undefined for one that does not exist', async () => {
    // Prepare
    scheduler
      .on(GetScheduleCommand, { Name: 'personio-acme' })
      .resolves({ ScheduleExpression: 'rate(7 days)', State: 'DISABLED', FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 30 } })
      .on(GetScheduleCommand, { Name: 'personio-gone' })
      .rejects(new ResourceNotFoundException(meta));

    // Act
    const found = await schedules().get('acme');
    const missing = await schedules().get('gone');

    // Assess
    expect(found).toEqual({ enabled: false, expression: 'rate(7 days)', every: 'weekly', name: 'personio-acme', flexibleWindowMinutes: 30 });
    expect(missing).toBeUndefined();
    expect(scheduler).toHaveReceivedCommandWith(GetScheduleCommand, { Name: 'personio-acme', GroupName: 'dado-imports' });
  });

  it('deletes a schedule, and treats one that is gone already as deleted', async () => {
    // Prepare
    scheduler
      .on(DeleteScheduleCommand, { Name: 'personio-acme' })
      .resolves({})
      .on(DeleteScheduleCommand, { Name: 'personio-gone' })
      .rejects(new ResourceNotFoundException(meta));

    // Act / Assess
    await expect(schedules().delete('acme')).resolves.toBeUndefined();
    await expect(schedules().delete('gone')).resolves.toBeUndefined();
    expect(scheduler).toHaveReceivedCommandWith(DeleteScheduleCommand, { Name: 'personio-acme', GroupName: 'dado-imports' });
  });

  describe.each([
    ['put', CreateScheduleCommand, (s: EventBridgeSchedules) => s.put('acme', { enabled: true, expression: 'rate(1 hour)' })],
    ['get', GetScheduleCommand, (s: EventBridgeSchedules) => s.get('acme')],
    ['delete', DeleteScheduleCommand, (s: EventBridgeSchedules) => s.delete('acme')],
  ] as const)('%s when Scheduler fails', (_, command, act) => {
    it('throws a ScheduleError (schedule_unavailable) naming the schedule and the cause', async () => {
      // Prepare
      scheduler.on(command as typeof GetScheduleCommand).rejects(new ThrottlingException(meta));

      // Act
      const error = await act(schedules()).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(ScheduleError);
      expect(error).toMatchObject({ code: 'schedule_unavailable', message: expect.stringContaining('personio-acme (ThrottlingException)') });
    });
  });
});

describe('schedule names and intervals', () => {
  it('derives a valid, unique and stable Scheduler name (at most 64 characters) from any valid tenant id', () => {
    const tenantId = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/);
    fc.assert(
      fc.property(tenantId, tenantId, (a, b) => {
        expect(tenantIdSchema.safeParse(a).success).toBe(true);
        const name = scheduleName(a);
        expect(name).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
        expect(scheduleName(a)).toBe(name);
        if (a !== b) expect(scheduleName(b)).not.toBe(name);
      }),
    );
  });

  it('maps each interval to its rate expression and back; anything else is custom', () => {
    for (const [every, expression] of Object.entries(scheduleIntervals)) expect(intervalOf(expression)).toBe(every);
    expect(intervalOf('cron(0 5 * * ? *)')).toBe('custom');
  });
});
