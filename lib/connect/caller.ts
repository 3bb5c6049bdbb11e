import { ConnectError } from './errors.js';

/**
 * What API Gateway's IAM authorization says about the signer (HTTP API, payload 2.0:
 * `requestContext.authorizer.iam`). A role's caller is its session: `arn:aws:sts::<account>:assumed-role/<name>/<session>`.
 */
export interface IamCaller {
  accountId?: string | null | undefined;
  userArn?: string | null | undefined;
}

/** Who made a change: the admin Dado's backend names, and the AWS role session the request was signed with. */
export interface Who {
  /** The admin's Dado user id (X-Dado-Actor). */
  actor: string;
  /** The signer's assumed-role ARN, session included (the session names who or what assumed the role). */
  caller: string;
}

/** Payload 2.0 lower-cases header names. */
export const ACTOR_HEADER = 'x-dado-actor';

// Role and session names are IAM's character set; an assumed-role ARN carries the role's name but not its path.
const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/[\w+=,.@-]{1,64}$/;
const ROLE = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:\S*\/)?([\w+=,.@-]{1,64})$/;

interface RoleName {
  partition: string;
  account: string;
  /** Lower-cased: IAM role names are unique regardless of case, so case cannot tell two roles apart. */
  name: string;
}

const roleName = (pattern: RegExp, arn: string): RoleName | undefined => {
  const match = pattern.exec(arn);
  return match ? { partition: match[1] ?? '', account: match[2] ?? '', name: (match[3] ?? '').toLowerCase() } : undefined;
};

const forbidden = () =>
  new ConnectError(
    'forbidden',
    'This caller may not use the Dado × Personio API: it accepts only the IAM roles its deployment lists. Ask the operators of this deployment to allow your role.',
  );

/**
 * The caller, if it signed as one of the allowed roles (IAM role ARNs): same partition, account and role name. Any
 * other signer (another role, a role of another account, an IAM user, root) or no IAM context at all is refused with
 * 403 `forbidden`, whose message names neither the caller nor the allowed roles.
 */
export function authorizeCaller(allowedRoleArns: readonly string[], iam: IamCaller | null | undefined): string {
  const arn = iam?.userArn ?? '';
  const caller = roleName(ASSUMED_ROLE, arn);
  // API Gateway sets both; a disagreement means the context was not API Gateway's.
  if (!caller || (iam?.accountId != null && iam.accountId !== caller.account)) throw forbidden();
  const allowed = allowedRoleArns.some((allowedArn) => {
    const role = roleName(ROLE, allowedArn);
    return role !== undefined && role.partition === caller.partition && role.account === caller.account && role.name === caller.name;
  });
  if (!allowed) throw forbidden();
  return arn;
}

const ACTOR = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The admin a change is made for, from X-Dado-Actor: 400 `actor_required` without it, `invalid_actor` when malformed. */
export function parseActor(raw: string | undefined): string {
  if (raw === undefined)
    throw new ConnectError(
      'actor_required',
      `This request changes the tenant's connection, so it must name the Dado admin who made it: send the X-Dado-Actor header with the admin's Dado user id.`,
    );
  // The value is never echoed: it came from outside and could be anything.
  if (!ACTOR.test(raw))
    throw new ConnectError('invalid_actor', 'X-Dado-Actor must be the admin’s Dado user id: 1 to 128 letters, digits and . _ : @ - characters.');
  return raw;
}
