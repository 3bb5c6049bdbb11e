import * as z from 'zod';

/** Names of the environment variables the functions read; the CDK grant helpers set the same names. */
export const envNames = {
  usersTable: 'USERS_TABLE',
  connectionsTable: 'CONNECTIONS_TABLE',
  runsTable: 'RUNS_TABLE',
  auditTable: 'AUDIT_TABLE',
  changesQueueUrl: 'CHANGES_QUEUE_URL',
  importQueueUrl: 'IMPORT_QUEUE_URL',
  eventBusName: 'EVENT_BUS_NAME',
  secretPrefix: 'SECRET_PREFIX',
  personioBaseUrl: 'PERSONIO_BASE_URL',
  personioAppId: 'PERSONIO_APP_ID',
  deactivationThreshold: 'DEACTIVATION_THRESHOLD',
  scheduleGroupName: 'SCHEDULE_GROUP_NAME',
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  fetchFunctionArn: 'FETCH_FUNCTION_ARN',
  fetchFunctionName: 'FETCH_FUNCTION_NAME',
  scheduleExpression: 'SCHEDULE_EXPRESSION',
  webhookBaseUrl: 'WEBHOOK_BASE_URL',
  reconcileScheduleExpression: 'RECONCILE_SCHEDULE_EXPRESSION',
  scheduleFlexibleWindowMinutes: 'SCHEDULE_FLEXIBLE_WINDOW_MINUTES',
  stage: 'DADO_STAGE',
  allowedCallers: 'ALLOWED_CALLER_ARNS',
  secretsKmsKeyId: 'SECRETS_KMS_KEY_ID',
  runRetentionDays: 'RUN_RETENTION_DAYS',
  pauseAfterCredentialFailures: 'PAUSE_AFTER_CREDENTIAL_FAILURES',
} as const;

export type EnvName = (typeof envNames)[keyof typeof envNames];

const nonEmpty = z.string().trim().min(1);

const fields = {
  usersTable: nonEmpty,
  connectionsTable: nonEmpty,
  runsTable: nonEmpty,
  auditTable: nonEmpty,
  // The changes queue (webhook receiver → refresh).
  changesQueueUrl: z.url(),
  importQueueUrl: z.url(),
  // The product's EventBridge bus that user and run changes are published to (a name, not an ARN: PutEvents takes either).
  eventBusName: nonEmpty.regex(/^[A-Za-z0-9._\-/]{1,256}$/, 'an event bus name'),
  secretPrefix: nonEmpty.regex(/^[A-Za-z0-9/_+=.@-]+$/, 'only characters Secrets Manager allows in a name'),
  personioBaseUrl: z.url().default('https://api.personio.de'),
  // Personio asks for UPPER_SNAKE_CASE, constant per integration.
  personioAppId: z
    .string()
    .regex(/^[A-Z0-9_]{1,64}$/)
    .default('DADO'),
  // Share of active users one run may deactivate before it is held for approval.
  deactivationThreshold: z.coerce.number().min(0).max(1).default(0.2),
  // EventBridge Scheduler: the group holding one schedule per tenant, the role schedules run as, and their target.
  scheduleGroupName: nonEmpty.regex(/^[0-9a-zA-Z_.-]{1,64}$/, 'a schedule group name (letters, digits, - _ .; at most 64)'),
  schedulerRoleArn: nonEmpty.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/, 'an IAM role ARN'),
  fetchFunctionArn: nonEmpty.regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+$/, 'an unqualified Lambda function ARN'),
  // "Import now" invokes the fetch asynchronously by name.
  fetchFunctionName: nonEmpty.regex(/^[A-Za-z0-9_-]{1,64}$/, 'a Lambda function name'),
  // The schedule of a newly connected tenant, and the flexible window that spreads the tenants' runs (0 = exact).
  scheduleExpression: z
    .string()
    .trim()
    .regex(/^(rate|cron)\(.+\)$/, 'rate(...) or cron(...)')
    .default('rate(1 hour)'),
  // Where Personio delivers a tenant's webhooks: the receiver's route up to the tenant id (ends with /webhooks/personio/).
  // Unset: connect registers no webhook and every tenant imports on the schedule.
  webhookBaseUrl: z
    .url()
    // The tenant id is appended after a "/".
    .transform((u) => (u.endsWith('/') ? u : `${u}/`))
    .optional(),
  // A tenant's full reconciliation while its webhooks are active (without them, scheduleExpression).
  reconcileScheduleExpression: z
    .string()
    .trim()
    .regex(/^(rate|cron)\(.+\)$/, 'rate(...) or cron(...)')
    .default('rate(1 day)'),
  scheduleFlexibleWindowMinutes: z.coerce.number().int().min(0).max(1440).default(15),
  // The deployment's stage (infra/config.ts): a dimension of every metric, a tag on every secret.
  stage: nonEmpty.regex(/^[a-z][a-z0-9]{0,15}$/, 'a stage name (lower-case letters and digits)'),
  // IAM role ARNs allowed to call the connect API, comma-separated; an empty list lets nobody in (fail closed).
  allowedCallers: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    )
    .pipe(z.array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/, 'IAM role ARNs, comma-separated'))),
  // The customer-managed key tenant secrets are created under (a key id, ARN or alias).
  secretsKmsKeyId: nonEmpty,
  // Days a final run record and its findings are kept (held runs stay until decided).
  runRetentionDays: z.coerce.number().int().min(1).max(3650).default(400),
  // A tenant whose credential fails this many runs in a row is paused (one scheduled try a day) until a run gets through
  // or it reconnects.
  pauseAfterCredentialFailures: z.coerce.number().int().min(1).max(100).default(3),
};

type Fields = typeof fields;
export type Config<K extends keyof Fields> = { [P in K]: z.output<Fields[P]> };

export class ConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the variables a function needs, once, at module load: a missing or malformed one fails the
 * cold start with the variable's name instead of a confusing error on the first event.
 */
export function loadConfig<K extends keyof Fields>(keys: readonly K[], env: NodeJS.ProcessEnv = process.env): Config<K> {
  const shape = Object.fromEntries(keys.map((k) => [k, fields[k]])) as { [P in K]: Fields[P] };
  const input = Object.fromEntries(keys.map((k) => [k, env[envNames[k]] === '' ? undefined : env[envNames[k]]]));
  const parsed = z.object(shape).safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${envNames[i.path[0] as K]}: ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data as Config<K>;
}
