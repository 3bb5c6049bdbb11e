import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';

interface TenantSchedulesProps {
  /** The schedule group's name (fixed, so the ARNs granted on its schedules are readable in the policies). */
  groupName: string;
  /** What each schedule invokes: the fetch. */
  target: IFunction;
  /** Default schedule of a newly connected tenant, e.g. `rate(1 hour)`. */
  expression: string;
  /** Flexible time window that spreads the tenants' runs. */
  flexibleWindowMinutes: number;
}

/**
 * One EventBridge Scheduler schedule per tenant lives in this group; connect creates, updates and deletes them at
 * runtime, naming the scheduler role as the schedules' execution role. Deleting the group (on teardown) deletes its
 * schedules, so no schedule outlives the function it targets.
 */
export class TenantSchedules extends Construct {
  /** The actions connect may call, on the group's schedules only. */
  static readonly manageActions = ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule'] as const;

  readonly group: ScheduleGroup;
  /** The group's name as a plain string (not a token), for ARNs and policy reviews. */
  readonly groupName: string;
  readonly role: Role;
  readonly target: IFunction;
  /** Every schedule of the group; the `*` is the schedule name (one per tenant, created at runtime). */
  readonly scheduleArnPattern: string;
  readonly expression: string;
  readonly flexibleWindowMinutes: number;

  constructor(scope: Construct, id: string, props: TenantSchedulesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.groupName = props.groupName;
    this.target = props.target;
    this.expression = props.expression;
    this.flexibleWindowMinutes = props.flexibleWindowMinutes;
    this.group = new ScheduleGroup(this, 'Group', { scheduleGroupName: props.groupName, removalPolicy: RemovalPolicy.DESTROY });
    this.scheduleArnPattern = stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${props.groupName}/*` });

    // Only schedules of this group, in this account, may assume the role (confused-deputy protection).
    this.role = new Role(this, 'SchedulerRole', {
      description: 'Execution role of the per-tenant Personio import schedules: may invoke the fetch, nothing else',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.group.scheduleGroupArn } },
      }),
    });
    // The unqualified ARN only: `grantInvoke` would add `<arn>:*` (every version and alias), which no schedule needs.
    this.role.addToPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.target.functionArn] }));
  }
}
