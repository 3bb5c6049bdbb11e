import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { repairScheduleTargets, type ScheduleRepairDeps, ScheduleTargetRepair } from '../../lib/schedules/repair.js';
import { scheduleName } from '../../lib/schedules/schedules.js';
import { type SchedulerStandIn, type StoredSchedule, startScheduler } from '../../local/aws/scheduler.js';

// The repair of tenant schedules after a deploy replaced the fetch or the scheduler role, through the real SDK client
// against the Scheduler stand-in (which speaks ListSchedules with its paging, and keeps every field a schedule has).

const account = '000000000000';
const oldFetch = `arn:aws:lambda:eu-central-1:${account}:function:DadoPersonioImport-FunctionsFetch1A2B3C4D-x7Kp2`;
const newFetch = `arn:aws:lambda:eu-central-1:${account}:function:DadoPersonioImport-fetch`;
const oldRole = `arn:aws:iam::${account}:role/DadoPersonioImport-SchedulesSchedulerRole1F2E3D-Qw9`;
const newRole = `arn:aws:iam::${account}:role/DadoPersonioImport-scheduler-eu-central-1`;

describe('repairing the tenant schedules after the fetch or the scheduler role was replaced', () => {
  let standIn: SchedulerStandIn;
  let client: SchedulerClient;
  let clock: number;
  let group: string;
  let groups = 0;

  const deps = (overrides: Partial<ScheduleRepairDeps> = {}): ScheduleRepairDeps => ({
    scheduler: client,
    groupName: group,
    targetArn: newFetch,
    roleArn: newRole,
    now: () => clock,
    ...overrides,
  });
  const farDeadline = () => clock + 60_000;

  /** A tenant schedule as connect writes it, with the target and role of the deployment that wrote it. */
  const schedule = (tenantId: string, target: { fetch: string; role: string }, overrides: Partial<CreateScheduleCommandInput> = {}) =>
    client.send(
      new CreateScheduleCommand({
        Name: scheduleName(tenantId),
        GroupName: group,
        Description: `Personio import of Dado tenant ${tenantId}`,
        ScheduleExpression: 'rate(1 hour)',
        State: 'ENABLED',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: {
          Arn: target.fetch,
          RoleArn: target.role,
          Input: JSON.stringify({ tenantId, scheduledAt: '<aws.scheduler.scheduled-time>' }),
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 5 },
        },
        ...overrides,
      }),
    );
  const stored = (name: string, inGroup = group): StoredSchedule => {
    const found = standIn.schedules().find((s) => s.GroupName === inGroup && s.Name === name);
    if (!found) throw new Error(`no schedule ${inGroup}/${name}`);
    return found;
  };
  /** Everything but what the repair may change: the target's ARN and role, and the modification time. */
  const kept = ({ LastModificationDate, Target: { Arn, RoleArn, ...target }, ...rest }: StoredSchedule) => ({ ...rest, Target: target });
  const updates = () => standIn.calls()['UpdateSchedule'] ?? 0;

  beforeAll(async () => {
    standIn = await startScheduler({ now: () => clock });
    client = new SchedulerClient({ endpoint: standIn.url, region: 'eu-central-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  });

  beforeEach(() => {
    // Prepare: a fresh group per test, and a clock the stand-in and the repair share
    clock = Date.now();
    group = `imports-${++groups}`;
    standIn.createGroup(group);
  });

  afterAll(async () => {
    client?.destroy();
    await standIn?.close();
  });

  it('points a schedule at the current fetch and role, keeping its expression, window, state, input, retry policy and description', async () => {
    // Prepare
    await schedule('acme', { fetch: oldFetch, role: oldRole }, { State: 'DISABLED', ScheduleExpression: 'rate(1 day)', FlexibleTimeWindow: { Mode: 'OFF' } });
    const before = stored('personio-acme');
    clock += 60_000;

    // Act
    const outcome = await repairScheduleTargets(deps(), { full: false, deadline: farDeadline() });

    // Assess
    const after = stored('personio-acme');
    expect(after.Target).toMatchObject({ Arn: newFetch, RoleArn: newRole });
    expect(kept(after)).toEqual(kept(before));
    expect(after.State).toBe('DISABLED');
    expect(after.LastModificationDate).toBeGreaterThan(before.LastModificationDate);
    expect(outcome).toEqual({ schedules: 1, inspected: 1, repaired: 1, gone: 0, failures: [], complete: true });
  });

  it('leaves correct schedules untouched: a quick pass reads only the listing, a full pass reads each but writes none', async () => {
    // Prepare
    for (const tenant of ['a', 'b', 'c']) await schedule(tenant, { fetch: newFetch, role: newRole });
    const before = standIn.schedules().filter((s) => s.GroupName === group);
    const updatesBefore = updates();
    const readsBefore = standIn.calls()['GetSchedule'] ?? 0;

    // Act
    const quick = await repairScheduleTargets(deps(), { full: false, deadline: farDeadline() });
    const readsAfterQuick = standIn.calls()['GetSchedule'] ?? 0;
    const full = await repairScheduleTargets(deps(), { full: true, deadline: farDeadline() });

    // Assess
    expect(quick).toMatchObject({ schedules: 3, inspected: 0, repaired: 0 });
    expect(readsAfterQuick).toBe(readsBefore);
    expect(full).toMatchObject({ schedules: 3, inspected: 3, repaired: 0, complete: true });
    expect(updates()).toBe(updatesBefore);
    expect(standIn.schedules().filter((s) => s.GroupName === group)).toEqual(before);
  });

  it('finds a schedule that names only a replaced role on a full pass (the listing does not show roles)', async () => {
    // Prepare
    await schedule('acme', { fetch: newFetch, role: oldRole });

    // Act
    const quick = await repairScheduleTargets(deps(), { full: false, deadline: farDeadline() });
    const roleAfterQuick = stored('personio-acme').Target.RoleArn;
    const full = await repairScheduleTargets(deps(), { full: true, deadline: farDeadline() });

    // Assess
    expect(quick.repaired).toBe(0);
    expect(roleAfterQuick).toBe(oldRole);
    expect(full.repaired).toBe(1);
    expect(stored('personio-acme').Target).toMatchObject({ Arn: newFetch, RoleArn: newRole });
  });

  it('pages through the whole group: 230 schedules, broken ones on every page, every one repaired', async () => {
    // Prepare: every seventh points at the old fetch
    const tenants = Array.from({ length: 230 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);
    for (const [i, tenant] of tenants.entries()) await schedule(tenant, i % 7 === 0 ? { fetch: oldFetch, role: oldRole } : { fetch: newFetch, role: newRole });
    const listsBefore = standIn.calls()['ListSchedules'] ?? 0;

    // Act
    const outcome = await repairScheduleTargets(deps(), { full: false, deadline: farDeadline() });

    // Assess: three pages of at most 100
    expect(standIn.calls()['ListSchedules']! - listsBefore).toBe(3);
    expect(outcome).toEqual({ schedules: 230, inspected: 33, repaired: 33, gone: 0, failures: [], complete: true });
    const targets = standIn.schedules().filter((s) => s.GroupName === group);
    expect(targets).toHaveLength(230);
    for (const s of targets) expect(s.Target, s.Name).toMatchObject({ Arn: newFetch, RoleArn: newRole });
  });

  it("leaves other groups' schedules, and schedules in the group that are not the product's, alone", async () => {
    // Prepare
    const elsewhere = `elsewhere-${groups}`;
    standIn.createGroup(elsewhere);
    await schedule('acme', { fetch: oldFetch, role: oldRole }, { GroupName: elsewhere });
    await schedule('ignored', { fetch: oldFetch, role: oldRole }, { Name: 'hand-made' });

    // Act
    const outcome = await repairScheduleTargets(deps(), { full: true, deadline: farDeadline() });

    // Assess
    expect(outcome).toMatchObject({ schedules: 0, repaired: 0 });
    expect(stored('personio-acme', elsewhere).Target.Arn).toBe(oldFetch);
    expect(stored('hand-made').Target.Arn).toBe(oldFetch);
  });

  it('drops a start date that has passed (Scheduler refuses one more than 5 minutes old) and keeps one to come', async () => {
    // Prepare
    const soon = new Date(Math.ceil(clock / 1000) * 1000 + 120_000);
    const later = new Date(soon.getTime() + 86_400_000);
    await schedule('started', { fetch: oldFetch, role: oldRole }, { StartDate: soon });
    await schedule('waiting', { fetch: oldFetch, role: oldRole }, { StartDate: later });
    clock += 3_600_000;

    // Act
    const outcome = await repairScheduleTargets(deps(), { full: false, deadline: farDeadline() });

    // Assess
    expect(outcome).toMatchObject({ repaired: 2, failures: [] });
    expect(stored('personio-started').StartDate).toBeUndefined();
    expect(stored('personio-waiting').StartDate).toBe(later.getTime() / 1000);
  });

  it('counts a schedule deleted after the listing (a tenant disconnected meanwhile) as gone, not failed', async () => {
    // Prepare: the tenant disconnects as the repair is about to read its schedule
    await schedule('leaving', { fetch: oldFetch, role: oldRole });
    await schedule('staying', { fetch: oldFetch, role: oldRole });
    const racing: Pick<SchedulerClient, 'send'> = {
      send: (async (command: { input: { Name?: string } }) => {
        if (command instanceof GetScheduleCommand && command.input.Name === 'personio-leaving')
          await client.send(new DeleteScheduleCommand({ Name: 'personio-leaving', GroupName: group }));
        return client.send(command as never);
      }) as SchedulerClient['send'],
    };

    // Act
    const outcome = await repairScheduleTargets(deps({ scheduler: racing }), { full: false, deadline: farDeadline() });

    // Assess
    expect(outcome).toMatchObject({ schedules: 2, repaired: 1, gone: 1, failures: [] });
    expect(stored('personio-staying').Target.Arn).toBe(newFetch);
  });

  it('reports a schedule whose update failed by name and error, and repairs the others', async () => {
    // Prepare: Scheduler refuses one update (a fault at the SDK's edge)
    await schedule('refused', { fetch: oldFetch, role: oldRole });
    await schedule('fine', { fetch: oldFetch, role: oldRole });
    const refusing: Pick<SchedulerClient, 'send'> = {
      send: (async (command: { input: { Name?: string } }) => {
        if (command instanceof UpdateScheduleCommand && command.input.Name === 'personio-refused')
          throw Object.assign(new Error('User is not authorized to perform: iam:PassRole'), { name: 'AccessDeniedException' });
        return client.send(command as never);
      }) as SchedulerClient['send'],
    };

    // Act
    const outcome = await repairScheduleTargets(deps({ scheduler: refusing }), { full: false, deadline: farDeadline() });

    // Assess
    expect(outcome).toMatchObject({ repaired: 1, failures: [{ name: 'personio-refused', error: 'AccessDeniedException' }] });
    expect(stored('personio-fine').Target.Arn).toBe(newFetch);
    expect(stored('personio-refused').Target.Arn).toBe(oldFetch);
  });

  it('starts no schedule after its deadline, says the pass is incomplete, and the next pass finishes', async () => {
    // Prepare: the clock passes the deadline as the first update is sent
    for (const tenant of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']) await schedule(tenant, { fetch: oldFetch, role: oldRole });
    const deadline = clock + 1_000;
    const slow: Pick<SchedulerClient, 'send'> = {
      send: (async (command: object) => {
        if (command instanceof UpdateScheduleCommand) clock = deadline + 1;
        return client.send(command as never);
      }) as SchedulerClient['send'],
    };

    // Act
    const cut = await repairScheduleTargets(deps({ scheduler: slow }), { full: false, deadline });
    const next = await repairScheduleTargets(deps(), { full: false, deadline: farDeadline() });

    // Assess: the first pass repaired only what was under way (at most one per lane)
    expect(cut.complete).toBe(false);
    expect(cut.repaired).toBeGreaterThan(0);
    expect(cut.repaired).toBeLessThan(12);
    expect(next).toMatchObject({ complete: true, repaired: 12 - cut.repaired });
    for (const s of standIn.schedules().filter((x) => x.GroupName === group)) expect(s.Target.Arn, s.Name).toBe(newFetch);
  });

  describe('as the sweeper runs it (ScheduleTargetRepair)', () => {
    it('reads every schedule on the first pass of an execution environment, then only the listing', async () => {
      // Prepare
      await schedule('acme', { fetch: newFetch, role: newRole });
      const repair = new ScheduleTargetRepair(deps());

      // Act
      const first = await repair.run(farDeadline());
      await schedule('late', { fetch: newFetch, role: oldRole });
      const second = await repair.run(farDeadline());
      const fresh = await new ScheduleTargetRepair(deps()).run(farDeadline());

      // Assess: a role-only change after the first pass waits for a new environment (a deploy that replaces the role makes one)
      expect(first).toMatchObject({ full: true, inspected: 1, repaired: 0 });
      expect(second).toMatchObject({ full: false, inspected: 0, repaired: 0 });
      expect(fresh).toMatchObject({ full: true, repaired: 1 });
      expect(stored('personio-late').Target.RoleArn).toBe(newRole);
    });

    it('keeps reading every schedule until a full pass completes without failures', async () => {
      // Prepare: the first pass cannot update, the second can
      await schedule('acme', { fetch: newFetch, role: oldRole });
      let refuse = true;
      const flaky: Pick<SchedulerClient, 'send'> = {
        send: (async (command: object) => {
          if (command instanceof UpdateScheduleCommand && refuse) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
          return client.send(command as never);
        }) as SchedulerClient['send'],
      };
      const repair = new ScheduleTargetRepair(deps({ scheduler: flaky }));

      // Act
      const first = await repair.run(farDeadline());
      refuse = false;
      const second = await repair.run(farDeadline());
      const third = await repair.run(farDeadline());

      // Assess
      expect(first).toMatchObject({ full: true, repaired: 0, failures: [{ name: 'personio-acme', error: 'ThrottlingException' }] });
      expect(second).toMatchObject({ full: true, repaired: 1, failures: [] });
      expect(third.full).toBe(false);
    });
  });
});
