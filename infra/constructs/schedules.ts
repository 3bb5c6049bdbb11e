import { RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
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

/** IAM's limit on a role name, and the longest region name a stack without `env` may deploy to. */
const MAX_ROLE_NAME = 64;
const MAX_REGION_NAME = 'ap-southeast-5'.length;

/**
 * The scheduler role's physical name: `<stackName>-scheduler-<region>`. Every tenant's schedule stores the role's ARN,
 * which IAM derives from the name alone; a generated name changes with the construct tree, and every schedule would
 * then name a deleted role. IAM is global to the account, so the region keeps a stack of the same name in another
 * region from taking the same role.
 */
export function schedulerRoleName(stackName: string, region: string): string {
  const regionLength = Token.isUnresolved(region) ? MAX_REGION_NAME : region.length;
  const length = stackName.length + '-scheduler-'.length + regionLength;
  if (length > MAX_ROLE_NAME)
    throw new Error(
      `The scheduler role's name ${stackName}-scheduler-<region> would be ${length} characters, over IAM's ${MAX_ROLE_NAME}: choose a stack name of at most ${MAX_ROLE_NAME - '-scheduler-'.length - regionLength}.`,
    );
  return `${stackName}-scheduler-${region}`;
}

/**
 * One EventBridge Scheduler schedule per tenant lives in this group; connect creates, updates and deletes them at
 * runtime, naming the scheduler role as the schedules' execution role. The sweeper points any schedule whose target or
 * role is not the current one back at them (lib/schedules/repair.ts), so a replaced fetch or role heals within one
 * sweep period. Deleting the group (on teardown) deletes its schedules, so no schedule outlives the function it targets.
 */
export class TenantSchedules extends Construct {
  /** The actions connect may call, on the group's schedules only. */
  static readonly manageActions = ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule'] as const;
  /** The actions the sweeper's repair calls on the group's schedules (it lists them too: ListSchedules, see infra/grants.ts). */
  static readonly repairActions = ['scheduler:GetSchedule', 'scheduler:UpdateSchedule'] as const;

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
      roleName: schedulerRoleName(stack.stackName, stack.region),
      description: 'Execution role of the per-tenant Personio import schedules: may invoke the fetch, nothing else',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.group.scheduleGroupArn } },
      }),
    });
    // The unqualified ARN only: `grantInvoke` would add `<arn>:*` (every version and alias), which no schedule needs.
    this.role.addToPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.target.functionArn] }));
  }
}
