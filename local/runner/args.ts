import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { mappingSchema, type Mapping } from '../../lib/mapping/mapping.js';
import { tenantIdSchema } from '../../lib/tenants/tenant-id.js';

export interface StartArgs {
  employees: number;
  tenant: string;
  runs: number;
  personio: { url: string; clientId: string; clientSecret: string } | undefined;
  dumpUsers: string | undefined;
  report: string | undefined;
  /** Each change event published to the local event bus, one JSON line per entry. */
  events: string | undefined;
  /** A mapping in the API's `PUT …/mapping` shape, saved for the tenant's connection before the import. */
  mapping: { file: string; mapping: Mapping } | undefined;
  verbose: boolean;
  help: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const usage = `Usage: npm start -- [options]

Runs a full Personio import on the local stack (DynamoDB Local, SQS, a Secrets Manager stand-in and
the Personio simulator) through the real Lambda handlers, then stops everything.

  --employees N        employees in the simulator (default 1000)
  --tenant ID          Dado tenant id (default demo)
  --runs N             import N times into the same store (default 1)
  --personio-url URL   use this Personio API root instead of the simulator (with its Client ID and Secret)
  --client-id ID       Personio Client ID (or PERSONIO_CLIENT_ID; the flag wins)
  --client-secret S    Personio Client Secret (or PERSONIO_CLIENT_SECRET; the flag wins; the variable keeps it
                       out of your shell history and npm's echo of the command)
  --mapping FILE       a JSON mapping in the shape PUT /tenants/{t}/personio/mapping takes ({fields, customFields}),
                       saved for the tenant before the import and checked the same way
  --dump-users FILE    write the tenant's users after the last run as a JSON array
  --report FILE        write one run report per run as a JSON array
  --events FILE        write each change event published to the local event bus as one JSON line
  --verbose            show the handlers' log lines
  --help               this text`;

/** `--name`'s whole-number value from min to max, or `fallback` when the flag is absent. */
export function wholeNumber(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return Number(raw);
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type ParsedFlags<T extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: false; options: T }>>['values'];

/** Strict flags without positionals; an unknown flag or a missing value is a UsageError with parseArgs' message. */
export function parseFlags<const T extends FlagOptions>(argv: string[], options: T): ParsedFlags<T> {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Reads and checks a mapping file with the API's own schema, so a bad one fails before anything starts. */
function readMapping(file: string): { file: string; mapping: Mapping } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--mapping: cannot read ${file} (${(error as { code?: string }).code ?? 'unreadable'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--mapping: ${file} is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UsageError(`--mapping: ${file} is not a valid mapping: ${problems.join('; ')}`);
  }
  return { file, mapping: parsed.data };
}

export function parseStartArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): StartArgs {
  const values = parseFlags(argv, {
    employees: { type: 'string' },
    tenant: { type: 'string' },
    runs: { type: 'string' },
    'personio-url': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'dump-users': { type: 'string' },
    report: { type: 'string' },
    events: { type: 'string' },
    mapping: { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  const tenant = values.tenant ?? 'demo';
  const tenantCheck = tenantIdSchema.safeParse(tenant);
  if (!tenantCheck.success) throw new UsageError(`--tenant: ${tenantCheck.error.issues[0]?.message}`);

  const url = values['personio-url'];
  // Flags win over the environment; the environment alone never switches away from the simulator.
  const clientId = values['client-id'] ?? (url !== undefined ? env['PERSONIO_CLIENT_ID'] : undefined);
  const clientSecret = values['client-secret'] ?? (url !== undefined ? env['PERSONIO_CLIENT_SECRET'] : undefined);
  let personio: StartArgs['personio'];
  if (url !== undefined || clientId !== undefined || clientSecret !== undefined) {
    if (!url || !clientId || !clientSecret)
      throw new UsageError(
        '--personio-url goes with a Client ID and Secret (--client-id and --client-secret, or PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET)',
      );
    if (!/^https?:\/\/[^\s]+$/.test(url))
      // The value is not repeated: a URL can carry user:password.
      throw new UsageError('--personio-url must be an http(s) URL');
    personio = { url, clientId, clientSecret };
  }
  return {
    employees: wholeNumber('employees', values.employees, 1000, 1, 200_000),
    tenant,
    runs: wholeNumber('runs', values.runs, 1, 1, 100),
    personio,
    dumpUsers: values['dump-users'],
    report: values.report,
    events: values.events,
    mapping: values.mapping === undefined ? undefined : readMapping(values.mapping),
    verbose: values.verbose ?? false,
    help: values.help ?? false,
  };
}
