import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  paginateListSchedules,
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

  describe('ListSchedules', () => {
    beforeAll(async () => {
      standIn.createGroup('listing');
      standIn.createGroup('other');
      const create = (name: string, overrides: Partial<CreateScheduleCommandInput> = {}) =>
        client.send(new CreateScheduleCommand(input(name, { GroupName: 'listing', ...overrides })));
      for (let i = 0; i < 25; i++) await create(`personio-t${String(i).padStart(2, '0')}`, { State: i % 5 === 0 ? 'DISABLED' : 'ENABLED' });
      await create('hand-made');
      await create('personio-elsewhere', { GroupName: 'other' });
    });

    it('pages through one group by name prefix, every schedule once, with its target ARN but not its role or input', async () => {
      // Act
      const pages = [];
      for await (const page of paginateListSchedules({ client, pageSize: 10 }, { GroupName: 'listing', NamePrefix: 'personio-' })) pages.push(page);
      const schedules = pages.flatMap((p) => p.Schedules ?? []);

      // Assess
      expect(pages.map((p) => p.Schedules?.length)).toEqual([10, 10, 5]);
      expect(pages.at(-1)?.NextToken).toBeUndefined();
      expect(schedules.map((s) => s.Name)).toEqual(Array.from({ length: 25 }, (_, i) => `personio-t${String(i).padStart(2, '0')}`));
      expect(schedules[0]).toEqual({
        Arn: 'arn:aws:scheduler:eu-central-1:000000000000:schedule/listing/personio-t00',
        Name: 'personio-t00',
        GroupName: 'listing',
        State: 'DISABLED',
        CreationDate: expect.any(Date),
        LastModificationDate: expect.any(Date),
        Target: { Arn: 'arn:aws:lambda:eu-central-1:000000000000:function:fetch' },
      });
    });

    it('filters by state, and lists every group without a group filter', async () => {
      // Act
      const disabled = await client.send(new ListSchedulesCommand({ GroupName: 'listing', State: 'DISABLED' }));
      const everywhere = await client.send(new ListSchedulesCommand({ NamePrefix: 'personio-e' }));

      // Assess
      expect(disabled.Schedules?.map((s) => s.Name)).toEqual(['personio-t00', 'personio-t05', 'personio-t10', 'personio-t15', 'personio-t20']);
      expect(everywhere.Schedules?.map((s) => `${s.GroupName}/${s.Name}`)).toEqual(['other/personio-elsewhere']);
    });

    it('does not repeat or skip a schedule when one is created or deleted between pages', async () => {
      // Prepare
      const first = await client.send(new ListSchedulesCommand({ GroupName: 'listing', NamePrefix: 'personio-', MaxResults: 10 }));
      await client.send(new DeleteScheduleCommand({ Name: 'personio-t03', GroupName: 'listing' }));
      await client.send(new CreateScheduleCommand(input('personio-t00a', { GroupName: 'listing' })));

      // Act
      const rest = await client.send(new ListSchedulesCommand({ GroupName: 'listing', NamePrefix: 'personio-', MaxResults: 100, NextToken: first.NextToken }));

      // Assess: t00a sorts before the token's position, so it belongs to a page already read
      expect(rest.Schedules?.[0]?.Name).toBe('personio-t10');
      expect(rest.Schedules).toHaveLength(15);
    });

    it.each([
      ['MaxResults over 100', { MaxResults: 101 }],
      ['MaxResults of 0', { MaxResults: 0 }],
      ['a state that does not exist', { State: 'PAUSED' as never }],
      ['a token it never issued', { NextToken: 'not-a-token' }],
    ])('refuses %s with ValidationException', async (_, parameters) => {
      // Act
      const error = await client.send(new ListSchedulesCommand({ GroupName: 'listing', ...parameters })).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(ValidationException);
    });
  });

  it('keeps a start date, end date and time zone, and refuses a recurring start date more than 5 minutes past', async () => {
    // Prepare
    const start = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
    const end = new Date(start.getTime() + 86_400_000);

    // Act
    await client.send(new CreateScheduleCommand(input('dated', { StartDate: start, EndDate: end, ScheduleExpressionTimezone: 'Europe/Berlin' })));
    const read = await client.send(new GetScheduleCommand({ Name: 'dated', GroupName: 'imports' }));
    const past = await client.send(new UpdateScheduleCommand({ ...input('dated'), StartDate: new Date(Date.now() - 600_000) })).catch((e: unknown) => e);

    // Assess
    expect(read).toMatchObject({ StartDate: start, EndDate: end, ScheduleExpressionTimezone: 'Europe/Berlin' });
    expect(past).toBeInstanceOf(ValidationException);
    expect((past as Error).message).toBe('The StartDate you specify cannot be earlier than 5 minutes ago.');
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
