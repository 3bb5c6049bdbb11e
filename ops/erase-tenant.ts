/**
 * Erases one tenant's data on request (the customer leaves; GDPR erasure): see lib/tenants/erase.ts for what goes and
 * in which order. Run by an operator with the stage's AWS credentials:
 *
 *   npx tsx ops/erase-tenant.ts --stage prod --outputs outputs.json --tenant acme --confirm acme
 *
 * The stage (cdk.json) gives the region and the secret prefix; the stack's outputs give the table names and the
 * schedule group. Prints a receipt (JSON: what was deleted, counts only) to keep with the customer's request.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeSchedules } from '../lib/schedules/eventbridge.js';
import { withContentionRetry } from '../lib/storage/contention.js';
import { EraseError, eraseTenant } from '../lib/tenants/erase.js';
import { parseDeploymentConfig, type StageLock } from '../infra/config.js';

export const usage = `Usage: npx tsx ops/erase-tenant.ts --stage STAGE --outputs FILE --tenant ID --confirm ID [--force]

Deletes the tenant's import schedule, its Personio secret (at once, no recovery window), its runs, users, audit
entries and connection. Refused while a run of the tenant is in flight, unless --force. Safe to run again.

  --stage STAGE        the stage block in cdk.json (region, secret prefix)
  --outputs FILE       the stack's outputs, as written by \`npm run deploy -- --outputs-file FILE\` or by
                       \`aws cloudformation describe-stacks --stack-name <stack> --query 'Stacks[0].Outputs'\`
  --tenant ID          the tenant to erase
  --confirm ID         the same tenant id again
  --force              erase although a run is in flight (erase again once it has ended)
  --region, --users-table, --connections-table, --runs-table, --audit-table, --schedule-group, --secret-prefix
                       override (or, without --stage and --outputs, give) each value`;

const outputKeys = {
  usersTable: 'UsersTableName',
  connectionsTable: 'ConnectionsTableName',
  runsTable: 'RunsTableName',
  auditTable: 'AuditTableName',
  scheduleGroup: 'ScheduleGroupName',
  secretPrefix: 'SecretPrefix',
} as const;

type Target = Record<keyof typeof outputKeys | 'region', string | undefined>;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  now?: () => Date;
}

/** Exit code: 0 erased, 1 failed (erase again), 2 usage, 3 refused (a run is in flight). */
export async function main(argv: string[], io: Io): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        stage: { type: 'string' },
        outputs: { type: 'string' },
        tenant: { type: 'string' },
        confirm: { type: 'string' },
        force: { type: 'boolean' },
        region: { type: 'string' },
        'users-table': { type: 'string' },
        'connections-table': { type: 'string' },
        'runs-table': { type: 'string' },
        'audit-table': { type: 'string' },
        'schedule-group': { type: 'string' },
        'secret-prefix': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (values['help']) {
    io.out(usage);
    return 0;
  }
  const tenantId = values['tenant'];
  if (typeof tenantId !== 'string' || values['confirm'] !== tenantId) {
    io.err(`Give the tenant with --tenant and the same id again with --confirm.\n\n${usage}`);
    return 2;
  }
  let target: Target;
  try {
    target = resolveTarget(values);
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const missing = Object.entries(target).flatMap(([k, v]) => (v ? [] : [k]));
  if (missing.length > 0) {
    io.err(`Missing: ${missing.join(', ')}. Give --stage and --outputs, or the flags.\n\n${usage}`);
    return 2;
  }
  const { region } = target as Record<keyof Target, string>;
  const now = io.now ?? (() => new Date());
  try {
    const report = await eraseTenant(
      {
        // Throttling past the SDK's own retries is retried too: a large tenant is many batches.
        db: withContentionRetry(DynamoDBDocumentClient.from(new DynamoDBClient({ region }))),
        tables: { users: target.usersTable ?? '', connections: target.connectionsTable ?? '', runs: target.runsTable ?? '', audit: target.auditTable ?? '' },
        // Only the schedule's get and delete are used: they need the group, not the role or the target.
        schedules: new EventBridgeSchedules(new SchedulerClient({ region }), {
          groupName: target.scheduleGroup ?? '',
          roleArn: '',
          targetArn: '',
          flexibleWindowMinutes: 0,
        }),
        secrets: new SecretsManagerClient({ region }),
        secretPrefix: target.secretPrefix ?? '',
        now,
      },
      tenantId,
      { force: values['force'] === true },
    );
    io.out(JSON.stringify({ erasedAt: now().toISOString(), stage: values['stage'] ?? null, region, ...report }, null, 2));
    if (report.inFlight.length > 0) io.err(`Runs were in flight (${report.inFlight.join(', ')}): erase again once they have ended.`);
    return 0;
  } catch (error) {
    if (error instanceof EraseError && error.code === 'run_in_progress') {
      io.err(error.message);
      return 3;
    }
    // Our errors and the SDK's name what failed, never a stored value.
    io.err(`Erasing tenant ${tenantId} stopped: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}. Erase again: it resumes.`);
    return 1;
  }
}

/** The stage's region and secret prefix, the stack's outputs, then the flags, each over the one before. */
function resolveTarget(values: Record<string, string | boolean | undefined>): Target {
  const target: Target = {
    region: undefined,
    usersTable: undefined,
    connectionsTable: undefined,
    runsTable: undefined,
    auditTable: undefined,
    scheduleGroup: undefined,
    secretPrefix: undefined,
  };
  let stackName: string | undefined;
  const stage = values['stage'];
  if (typeof stage === 'string') {
    const cdk = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
    const locks = JSON.parse(readFileSync(new URL('../infra/stages.lock.json', import.meta.url), 'utf8')) as Record<string, StageLock>;
    const config = parseDeploymentConfig({ ...cdk.context, 'dado:stage': stage }, locks);
    Object.assign(target, { region: config.env.region, secretPrefix: config.secretPrefix });
    stackName = config.stackName;
  }
  const file = values['outputs'];
  if (typeof file === 'string') {
    const outputs = readOutputs(JSON.parse(readFileSync(file, 'utf8')), stackName);
    for (const [key, name] of Object.entries(outputKeys)) if (outputs[name]) target[key as keyof typeof outputKeys] = outputs[name];
  }
  const flags: Record<string, keyof Target> = {
    region: 'region',
    'users-table': 'usersTable',
    'connections-table': 'connectionsTable',
    'runs-table': 'runsTable',
    'audit-table': 'auditTable',
    'schedule-group': 'scheduleGroup',
    'secret-prefix': 'secretPrefix',
  };
  for (const [flag, key] of Object.entries(flags)) if (typeof values[flag] === 'string') target[key] = values[flag];
  return target;
}

/** Outputs from `cdk deploy --outputs-file` ({stack: {key: value}}) or CloudFormation's `[{OutputKey, OutputValue}]`. */
export function readOutputs(json: unknown, stackName: string | undefined): Record<string, string> {
  const list = Array.isArray(json) ? json : (json as { Stacks?: { Outputs?: unknown[] }[] } | undefined)?.Stacks?.[0]?.Outputs;
  if (Array.isArray(list)) {
    return Object.fromEntries(
      list.flatMap((o) => {
        const { OutputKey, OutputValue } = o as { OutputKey?: unknown; OutputValue?: unknown };
        return typeof OutputKey === 'string' && typeof OutputValue === 'string' ? [[OutputKey, OutputValue]] : [];
      }),
    );
  }
  const byStack = (json ?? {}) as Record<string, Record<string, string>>;
  const stacks = Object.keys(byStack);
  const chosen = stackName && stackName in byStack ? stackName : stacks.length === 1 ? stacks[0] : undefined;
  if (!chosen) throw new Error(`The outputs file holds the stacks ${stacks.join(', ') || 'none'}; give --stage to choose ${stackName ?? 'one'}.`);
  return byStack[chosen] ?? {};
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), { out: (t) => console.log(t), err: (t) => console.error(t) });
}
