import { Lazy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';

export type Conditions = Record<string, Record<string, unknown>>;

/**
 * The resource policies' building block: deny some actions to every principal but the listed roles, whatever their
 * own (IAM) policies allow, an administrator's `*` included. Roles are matched by `aws:PrincipalArn` (the role, with
 * any session), not named as principals: the policy then accepts roles outside the stack that do not exist yet, and
 * keeps matching a role deleted and recreated under the same name. A request without a principal ARN (an AWS service
 * acting on its own) is denied too, except where a fence says otherwise.
 */
export function deny(sid: string, actions: readonly string[], resources: readonly string[], conditions: Conditions): PolicyStatement {
  return new PolicyStatement({ sid, effect: Effect.DENY, principals: [new AnyPrincipal()], actions: [...actions], resources: [...resources], conditions });
}

/**
 * Every principal but these roles; with none, every IAM principal (`ArnNotEquals` needs a value, and `*` would match,
 * and so exempt, everyone).
 */
export function exceptFor(roleArns: readonly string[]): Conditions {
  return roleArns.length > 0 ? { ArnNotEquals: { 'aws:PrincipalArn': [...roleArns] } } : { Null: { 'aws:PrincipalArn': 'false' } };
}

/**
 * Every principal but the roles `roleArns()` lists when the template is written: the stack's roles are added by the
 * binders after the resource exists. The list must not be empty then (the owner validates it).
 */
export function exceptForLater(roleArns: () => string[]): Conditions {
  return { ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: roleArns }) } };
}
