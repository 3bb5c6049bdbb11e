import { CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '../../lib/config.js';
import { scheduleName } from '../../lib/schedules/schedules.js';
import { type LocalEnvironment, localNames, startLocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';

// The one-time migration of a deploy that replaced the fetch or the scheduler role, through the real sweeper handler on
// the local stack: schedules written by the previous deployment are repaired by the next sweep.

describe('the sweeper repairs tenant schedules that name a replaced fetch or scheduler role', () => {
  let env: LocalEnvironment;
  let scheduler: SchedulerClient;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 5, seed: 3 } });
    scheduler = new SchedulerClient({});
  });

  afterAll(async () => {
    scheduler?.destroy();
    await env?.stop();
  });

  const storedSchedule = (tenantId: string) => env.stack.scheduler.schedules().find((s) => s.Name === scheduleName(tenantId));

  it('points the previous deployment’s schedules at the current fetch and role on the next sweep, and leaves current ones alone', async () => {
    // Prepare: one tenant connected through the API now, one whose schedule the previous deployment wrote
    await connectThroughApi(env, 'current', env.personio);
    await scheduler.send(
      new CreateScheduleCommand({
        Name: scheduleName('previous'),
        GroupName: localNames.scheduleGroup,
        ScheduleExpression: 'rate(6 hours)',
        State: 'ENABLED',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: {
          Arn: 'arn:aws:lambda:eu-central-1:000000000000:function:DadoPersonioImport-FunctionsFetch1A2B3C4D-x7Kp2',
          RoleArn: 'arn:aws:iam::000000000000:role/DadoPersonioImport-SchedulesSchedulerRole1F2E3D-Qw9',
          Input: JSON.stringify({ tenantId: 'previous', scheduledAt: '<aws.scheduler.scheduled-time>' }),
        },
      }),
    );
    const current = storedSchedule('current');

    // Act
    const outcome = await env.handlers.sweeper();

    // Assess: the sweep itself is unchanged; the old schedule names this deployment's fetch and role, the rest kept
    expect(outcome).toMatchObject({ failed: 0, failures: [] });
    expect(storedSchedule('previous')).toMatchObject({
      ScheduleExpression: 'rate(6 hours)',
      State: 'ENABLED',
      Target: {
        Arn: process.env[envNames.fetchFunctionArn],
        RoleArn: process.env[envNames.schedulerRoleArn],
        Input: JSON.stringify({ tenantId: 'previous', scheduledAt: '<aws.scheduler.scheduled-time>' }),
      },
    });
    expect(storedSchedule('current')).toEqual(current);
  });

  it('fails the invocation (the sweeper’s error alarm) when Scheduler cannot be reached, after settling the runs', async () => {
    // Prepare
    env.stack.scheduler.setUnavailable(true);

    // Act
    const error = await env.handlers.sweeper().catch((e: unknown) => e);
    env.stack.scheduler.setUnavailable(false);

    // Assess
    expect(error).toMatchObject({ name: 'ScheduleError', code: 'schedule_unavailable' });
    expect((error as Error).message).toContain(localNames.scheduleGroup);
  });
});
