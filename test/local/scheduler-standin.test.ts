import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeSchedules } from '../../lib/schedules/eventbridge.js';
import { startScheduler, type SchedulerStandIn } from '../../local/aws/scheduler.js';

// The local Scheduler stand-in through the real SDK client: the wire protocol, errors and validation the
// adapter (and so connect) relies on when it runs locally.

describe('the local EventBridge Scheduler stand-in', () => {
  let standIn: SchedulerStandIn;
  let client: SchedulerClient;

  const input = (name: string, overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput => ({
    Name: name,
    GroupName: 'imports',
    ScheduleExpression: 'rate(1 hour)',
    FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
    Target: { Arn: 'arn:aws:lambda:eu-central-1:000000000000:function:fetch', RoleArn: 'arn:aws:iam::000000000000:role/scheduler', Input: '{"tenantId":"a"}' },
    ...overrides,
  });

  beforeAll(async () => {
    standIn = await startScheduler();
    standIn.createGroup('imports');
    client = new SchedulerClient({ endpoint: standIn.url, region: 'eu-central-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  });

  afterAll(async () => {
    client?.destroy();
    await standIn?.close();
  });

  it('creates, reads, updates and deletes a schedule', async () => {
    // Act
    const created = await client.send(new CreateScheduleCommand(input('crud')));
    const read = await client.send(new GetScheduleCommand({ Name: 'crud', GroupName: 'imports' }));
    await client.send(new UpdateScheduleCommand({ ...input('crud'), ScheduleExpression: 'rate(1 day)', State: 'DISABLED' }));
    const updated = await client.send(new GetScheduleCommand({ Name: 'crud', GroupName: 'imports' }));
    await client.send(new DeleteScheduleCommand({ Name: 'crud', GroupName: 'imports' }));
    const gone = await client.send(new GetScheduleCommand({ Name: 'crud', GroupName: 'imports' })).catch((e: unknown) => e);

    // Assess
    expect(created.ScheduleArn).toBe('arn:aws:scheduler:eu-central-1:000000000000:schedule/imports/crud');
    expect(read).toMatchObject({
      Name: 'crud',
      GroupName: 'imports',
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Target: { Input: '{"tenantId":"a"}' },
    });
    expect(read.CreationDate).toBeInstanceOf(Date);
    expect(updated).toMatchObject({ ScheduleExpression: 'rate(1 day)', State: 'DISABLED' });
    expect(gone).toBeInstanceOf(ResourceNotFoundException);
  });

  it('answers ConflictException for an existing schedule and ResourceNotFoundException for a missing one or group', async () => {
    // Prepare
    await client.send(new CreateScheduleCommand(input('twice')));

    // Act
    const conflict = await client.send(new CreateScheduleCommand(input('twice'))).catch((e: unknown) => e);
    const updateMissing = await client.send(new UpdateScheduleCommand(input('never'))).catch((e: unknown) => e);
    const deleteMissing = await client.send(new DeleteScheduleCommand({ Name: 'never', GroupName: 'imports' })).catch((e: unknown) => e);
    const noGroup = await client.send(new CreateScheduleCommand(input('x', { GroupName: 'nope' }))).catch((e: unknown) => e);

    // Assess
    expect(conflict).toBeInstanceOf(ConflictException);
    expect(updateMissing).toBeInstanceOf(ResourceNotFoundException);
    expect(deleteMissing).toBeInstanceOf(ResourceNotFoundException);
    expect(noGroup).toBeInstanceOf(ResourceNotFoundException);
    expect((noGroup as Error).message).toBe('Schedule group nope does not exist.');
  });

  describe.each([
    ['a bad expression', { ScheduleExpression: 'every hour' }],
    ['a rate with the wrong unit form', { ScheduleExpression: 'rate(2 hour)' }],
    ['a flexible window without its maximum', { FlexibleTimeWindow: { Mode: 'FLEXIBLE' as const } }],
    ['a maximum window over a day', { FlexibleTimeWindow: { Mode: 'FLEXIBLE' as const, MaximumWindowInMinutes: 1441 } }],
    ['a role that is no IAM role ARN', { Target: { Arn: 'arn:aws:lambda:eu-central-1:000000000000:function:f', RoleArn: 'role' } }],
  ])('a schedule with %s', (_, overrides) => {
    it('is refused with ValidationException, as Scheduler does', async () => {
      // Act
      const error = await client.send(new CreateScheduleCommand(input('invalid', overrides))).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(ValidationException);
    });
  });

  it('serves the adapter connect uses: create-or-update, read back, delete twice', async () => {
    // Prepare
    const schedules = new EventBridgeSchedules(client, {
      groupName: 'imports',
      roleArn: 'arn:aws:iam::000000000000:role/scheduler',
      targetArn: 'arn:aws:lambda:eu-central-1:000000000000:function:fetch',
      flexibleWindowMinutes: 15,
    });

    // Act
    await schedules.put('acme', { enabled: true, expression: 'rate(1 hour)' });
    await schedules.put('acme', { enabled: false, expression: 'rate(7 days)' });
    const read = await schedules.get('acme');
    await schedules.delete('acme');
    await schedules.delete('acme');

    // Assess
    expect(read).toEqual({ enabled: false, expression: 'rate(7 days)', every: 'weekly', name: 'personio-acme', flexibleWindowMinutes: 15 });
    expect(await schedules.get('acme')).toBeUndefined();
    expect(standIn.calls()).toMatchObject({ CreateSchedule: expect.any(Number), UpdateSchedule: expect.any(Number), DeleteSchedule: expect.any(Number) });
  });
});
