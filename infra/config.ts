import * as z from 'zod';

/**
 * The deployment's settings, read from CDK context (`cdk.json`, or `-c key=value` on the command line) by
 * `infra/app.ts` only and passed down as props. Values given with `-c` arrive as strings, hence the coercion.
 *
 * A deployment is a **stage**: `-c dado:stage=NAME` picks one of the blocks committed under `dado:stages` in cdk.json
 * (the default stage is `dado:stage` there). A stage fixes its AWS account and region (the stack gets them as `env`,
 * so a shell with the wrong profile fails at once), its stack name and its secret prefix: those two are immutable once
 * the stage is deployed (a new stack name is a new, empty stack; a new prefix orphans every tenant's secret), which
 * `infra/stages.lock.json` records and the synth enforces. Everything else a stage may set overrides the product-wide
 * `dado:*` defaults below it.
 */
export const contextKeys = {
  stage: 'dado:stage',
  stages: 'dado:stages',
  personioBaseUrl: 'dado:personioBaseUrl',
  personioAppId: 'dado:personioAppId',
  deactivationThreshold: 'dado:deactivationThreshold',
  scheduleDefault: 'dado:scheduleDefault',
  reconcileScheduleDefault: 'dado:reconcileScheduleDefault',
  scheduleFlexibleWindowMinutes: 'dado:scheduleFlexibleWindowMinutes',
  logRetentionDays: 'dado:logRetentionDays',
} as const;

type Key = keyof typeof contextKeys;

/** Retention periods CloudWatch Logs accepts (never-expire is deliberately not one of them). */
const retentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const numeric = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), schema);

const scheduleExpression = z
  .string()
  .trim()
  .regex(
    /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/,
    'an EventBridge Scheduler expression such as "rate(1 hour)" or "cron(0 6 * * ? *)"',
  );

/** The settings a stage may override; the product-wide `dado:*` keys give their defaults. */
const tunables = {
  personioBaseUrl: z.url({ protocol: /^https$/, error: 'an https URL (the API root; the code adds /v1/...)' }).transform((u) => u.replace(/\/+$/, '')),
  // Same rule as lib/config.ts: Personio asks for UPPER_SNAKE_CASE, constant per integration.
  personioAppId: z.string().regex(/^[A-Z0-9_]{1,64}$/, 'UPPER_SNAKE_CASE, at most 64 characters'),
  deactivationThreshold: numeric(z.number().min(0).max(1)),
  scheduleDefault: scheduleExpression,
  // The schedule of a tenant whose webhooks are active: the full reconciliation behind them.
  reconcileScheduleDefault: scheduleExpression,
  scheduleFlexibleWindowMinutes: numeric(z.number().int().min(0).max(1440)),
  logRetentionDays: numeric(z.number().refine((d) => (retentionDays as readonly number[]).includes(d), `one of ${retentionDays.join(', ')}`)),
};

const productDefaults = z.object({
  personioBaseUrl: tunables.personioBaseUrl.default('https://api.personio.de'),
  personioAppId: tunables.personioAppId.default('DADO'),
  deactivationThreshold: tunables.deactivationThreshold.default(0.2),
  scheduleDefault: tunables.scheduleDefault.default('rate(1 hour)'),
  reconcileScheduleDefault: tunables.reconcileScheduleDefault.default('rate(1 day)'),
  scheduleFlexibleWindowMinutes: tunables.scheduleFlexibleWindowMinutes.default(15),
  logRetentionDays: tunables.logRetentionDays.default(30),
});

const stageName = z.string().regex(/^[a-z][a-z0-9]{0,15}$/, 'lower-case letters and digits, starting with a letter, at most 16');
const topicArn = z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'an SNS topic ARN');
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'an IAM role ARN');

/** Where one kind of alarm goes: an existing topic, or a new topic with an e-mail subscription (or neither: subscribe later). */
const alarmDestination = z.strictObject({ topicArn: topicArn.optional(), email: z.email().optional() });

const stageSchema = z
  .strictObject({
    account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
    region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region such as eu-central-1'),
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'a letter, then up to 63 letters, digits and hyphens (it also names the schedule group)'),
    /** Tenant secrets are `<prefix><tenantId>`; IAM, the key policy and the tags are scoped to it. Default: `dado/<stage>/personio/`. */
    secretPrefix: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]+\/$/, 'characters Secrets Manager allows in a name, ending with "/"')
      .optional(),
    /** Pages on-call: the import is broken for many tenants, or not running at all. */
    paging: alarmDestination.default({}),
    /** Opens a ticket: something to look at in working hours (held runs waiting long, one tenant's repeated failures). */
    tickets: alarmDestination.default({}),
    /** IAM roles allowed to call the connect API (Dado's backend); any other caller gets 403 forbidden. */
    allowedCallers: z.array(roleArn).min(1, "at least one role (Dado's backend): connect refuses every other caller"),
    /** IAM roles that may read the users and connections tables directly (Dado's services), and the break-glass role. */
    readerRoles: z.array(roleArn).default([]),
    breakGlassRoles: z.array(roleArn).default([]),
    /** Operators' roles allowed to redrive the import dead-letter queue. */
    redriveRoles: z.array(roleArn).default([]),
    reservedConcurrency: z
      .strictObject({ fetch: numeric(z.number().int().min(1).max(1000)).default(10), worker: numeric(z.number().int().min(2).max(1000)).default(20) })
      .default({ fetch: 10, worker: 20 }),
    /** Run records and their findings expire this many days after they are final (held runs stay until decided). */
    runRetentionDays: numeric(z.number().int().min(30).max(3650)).default(400),
    /** A tenant whose credential fails this many runs in a row is paused (one scheduled try a day) until a run gets through or it reconnects. */
    pauseAfterCredentialFailures: numeric(z.number().int().min(1).max(100)).default(3),
    /** Failure alarms: the share of runs failing over an hour, and the least number of failed runs, both needed to alarm. */
    failureRatio: numeric(z.number().gt(0).max(1)).default(0.1),
    failureFloor: numeric(z.number().int().min(1)).default(5),
    ...Object.fromEntries(Object.entries(tunables).map(([k, v]) => [k, v.optional()])),
  })
  .refine((stage) => `${stage.stackName}-scheduler-${stage.region}`.length <= 64, {
    path: ['stackName'],
    message: 'too long for this region: the scheduler role is named <stackName>-scheduler-<region>, and IAM allows 64 characters',
  });

type StageInput = z.input<typeof stageSchema>;
type ParsedStage = z.output<typeof stageSchema> & Partial<z.output<typeof productDefaults>>;

export type DeploymentConfig = z.output<typeof productDefaults> &
  Omit<ParsedStage, keyof z.output<typeof productDefaults> | 'secretPrefix'> & {
    stage: string;
    secretPrefix: string;
    env: { account: string; region: string };
  };

export class ContextError extends Error {
  override readonly name = 'ContextError';
}

/** What a deployed stage may not change (infra/stages.lock.json): a changed value would orphan the stage's state. */
export interface StageLock {
  stackName: string;
  secretPrefix: string;
}

const describeIssue = (prefix: string, value: unknown) => (i: z.core.$ZodIssue) =>
  `${[prefix, ...i.path.map(String)].join('.')}: ${i.message} (got ${JSON.stringify(i.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown>)?.[k as PropertyKey], value))})`;

/**
 * Validates the `dado:*` context and resolves the selected stage. Unknown `dado:*` keys are refused too, so a typo
 * cannot silently fall back to a default; a stage whose stack name or secret prefix differs from the lock is refused,
 * naming the setting.
 */
export function parseDeploymentConfig(context: Record<string, unknown>, locks: Record<string, StageLock> = {}): DeploymentConfig {
  const known = new Set<string>(Object.values(contextKeys));
  const problems = Object.keys(context)
    .filter((k) => k.startsWith('dado:') && !known.has(k))
    .map((k) => `${k}: unknown setting (known: ${[...known].join(', ')}; stack name and secret prefix are set per stage under dado:stages)`);

  const defaultsInput = Object.fromEntries(Object.keys(productDefaults.shape).map((k) => [k, context[contextKeys[k as Key]]]));
  const defaults = productDefaults.safeParse(defaultsInput);
  if (!defaults.success)
    problems.push(
      ...defaults.error.issues.map((i) => {
        const key = i.path[0] as Key;
        return `${contextKeys[key]}: ${i.message} (got ${JSON.stringify(context[contextKeys[key]])})`;
      }),
    );

  const stage = stageName.safeParse(context[contextKeys.stage]);
  const stages = (context[contextKeys.stages] ?? {}) as Record<string, StageInput>;
  let resolved: ParsedStage | undefined;
  if (!stage.success) problems.push(`${contextKeys.stage}: ${stage.error.issues[0]?.message} (got ${JSON.stringify(context[contextKeys.stage])})`);
  else if (typeof stages !== 'object' || stages === null || !(stage.data in stages))
    problems.push(`${contextKeys.stage}: no stage "${stage.data}" under ${contextKeys.stages} (stages: ${Object.keys(stages ?? {}).join(', ') || 'none'})`);
  else {
    const parsed = stageSchema.safeParse(stages[stage.data]);
    if (parsed.success) resolved = parsed.data as ParsedStage;
    else problems.push(...parsed.error.issues.map(describeIssue(`${contextKeys.stages}.${stage.data}`, stages[stage.data])));
  }

  if (problems.length > 0 || !defaults.success || !stage.success || !resolved)
    throw new ContextError(`Invalid CDK context; fix it in cdk.json or on the command line (-c key=value):\n  ${problems.join('\n  ')}`);

  const overrides = Object.fromEntries(Object.entries(resolved).filter(([k, v]) => k in tunables && v !== undefined));
  const config: DeploymentConfig = {
    ...defaults.data,
    ...resolved,
    ...overrides,
    stage: stage.data,
    secretPrefix: resolved.secretPrefix ?? `dado/${stage.data}/personio/`,
    env: { account: resolved.account, region: resolved.region },
  } as DeploymentConfig;
  checkLock(config, locks[stage.data]);
  return config;
}

function checkLock(config: DeploymentConfig, lock: StageLock | undefined): void {
  if (!lock) return;
  const changed = (['stackName', 'secretPrefix'] as const).filter((k) => lock[k] !== config[k]);
  if (changed.length === 0) return;
  throw new ContextError(
    `Stage "${config.stage}" is deployed with ${changed.map((k) => `${k} ${JSON.stringify(lock[k])}`).join(', ')} (infra/stages.lock.json), ` +
      `and this synth would change ${changed.length === 1 ? 'it' : 'them'} to ${changed.map((k) => JSON.stringify(config[k])).join(', ')}. ` +
      'A new stack name creates a new, empty stack beside the old one; a new secret prefix orphans every tenant secret. ' +
      'Restore the value in cdk.json, or follow "Moving a stage" in infra/README.md.',
  );
}
