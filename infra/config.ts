import * as z from 'zod';

/**
 * The deployment's settings, read from CDK context (`cdk.json`, or `-c key=value` on the command line) by
 * `infra/app.ts` only and passed down as props. Values given with `-c` arrive as strings, hence the coercion.
 */
export const contextKeys = {
  stackName: 'dado:stackName',
  personioBaseUrl: 'dado:personioBaseUrl',
  personioAppId: 'dado:personioAppId',
  deactivationThreshold: 'dado:deactivationThreshold',
  scheduleDefault: 'dado:scheduleDefault',
  scheduleFlexibleWindowMinutes: 'dado:scheduleFlexibleWindowMinutes',
  secretPrefix: 'dado:secretPrefix',
  logRetentionDays: 'dado:logRetentionDays',
} as const;

type Key = keyof typeof contextKeys;

/** Retention periods CloudWatch Logs accepts (never-expire is deliberately not one of them). */
const retentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const numeric = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), schema);

const schema = z.object({
  stackName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'a letter, then up to 63 letters, digits and hyphens (it also names the schedule group)')
    .default('DadoPersonioImport'),
  personioBaseUrl: z
    .url({ protocol: /^https$/, error: 'an https URL (the API root; the code adds /v1/...)' })
    .transform((u) => u.replace(/\/+$/, ''))
    .default('https://api.personio.de'),
  // Same rule as lib/config.ts: Personio asks for UPPER_SNAKE_CASE, constant per integration.
  personioAppId: z
    .string()
    .regex(/^[A-Z0-9_]{1,64}$/, 'UPPER_SNAKE_CASE, at most 64 characters')
    .default('DADO'),
  deactivationThreshold: numeric(z.number().min(0).max(1)).default(0.2),
  scheduleDefault: z
    .string()
    .trim()
    .regex(
      /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/,
      'an EventBridge Scheduler expression such as "rate(1 hour)" or "cron(0 6 * * ? *)"',
    )
    .default('rate(1 hour)'),
  scheduleFlexibleWindowMinutes: numeric(z.number().int().min(0).max(1440)).default(15),
  secretPrefix: z
    .string()
    .regex(/^[A-Za-z0-9/_+=.@-]+\/$/, 'characters Secrets Manager allows in a name, ending with "/"')
    .default('dado/personio/'),
  logRetentionDays: numeric(z.number().refine((d) => (retentionDays as readonly number[]).includes(d), `one of ${retentionDays.join(', ')}`)).default(30),
});

export type DeploymentConfig = z.output<typeof schema>;

export class ContextError extends Error {
  override readonly name = 'ContextError';
}

/**
 * Validates the `dado:*` context. Unknown `dado:*` keys are refused too, so a typo cannot silently fall back to a
 * default.
 */
export function parseDeploymentConfig(context: Record<string, unknown>): DeploymentConfig {
  const known = new Set<string>(Object.values(contextKeys));
  const unknown = Object.keys(context).filter((k) => k.startsWith('dado:') && !known.has(k));
  const input = Object.fromEntries((Object.keys(contextKeys) as Key[]).map((k) => [k, context[contextKeys[k]]]));
  const parsed = schema.safeParse(input);
  const problems = [
    ...unknown.map((k) => `${k}: unknown setting (known: ${[...known].join(', ')})`),
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => {
          const key = i.path[0] as Key;
          return `${contextKeys[key]}: ${i.message} (got ${JSON.stringify(context[contextKeys[key]])})`;
        })),
  ];
  if (problems.length > 0 || !parsed.success) {
    throw new ContextError(`Invalid CDK context; fix it in cdk.json or on the command line (-c key=value):\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
