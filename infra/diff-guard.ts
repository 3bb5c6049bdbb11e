import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run diff` and `npm run deploy`: the CDK CLI's diff, with the project's context, failing when the deployed stack
 * would lose a resource that holds state or that something outside the stack points at. CloudFormation replaces a
 * resource (creates a new one, then deletes or orphans the old) when a construct id is renamed or a property that
 * cannot change in place does, and `cdk deploy` asks about none of that. The tests pin the same resources by logical id
 * (test/infra/upgrade.test.ts); this catches what reaches a real deployed stack, whatever the tests say.
 *
 *   tsx infra/diff-guard.ts diff   [--allow-replacement <LogicalId>]... [cdk options]
 *   tsx infra/diff-guard.ts deploy [--allow-replacement <LogicalId>]... [cdk options]
 *
 * `deploy` runs the same diff first and deploys only if it passes, from the cloud assembly the diff synthesized (so
 * what is deployed is what was checked).
 */

/** A resource the guard protects, and what replacing or deleting it does. */
export interface ProtectedResource {
  type: string;
  /** Only the resource at this construct path (below the stack) or with a logical id of this shape; every one of the type when absent. */
  path?: string;
  logicalId?: RegExp;
  consequence: string;
}

export const protectedResources: readonly ProtectedResource[] = [
  {
    type: 'AWS::DynamoDB::GlobalTable',
    consequence:
      'CloudFormation creates a new, empty table and points the functions at it; the old one is deleted with its data (runs) or orphaned (users, connections, audit), and the next import recreates every user with new ids.',
  },
  { type: 'AWS::DynamoDB::Table', consequence: 'CloudFormation creates a new, empty table; the old one is deleted or orphaned with its data.' },
  {
    type: 'AWS::SQS::Queue',
    consequence: 'A new, empty queue replaces it: the messages in the old one (imports in flight, dead letters awaiting a redrive) go with it.',
  },
  {
    type: 'AWS::KMS::Key',
    consequence:
      'A new key replaces it: what the old key encrypted (tenant secrets, queued messages, table items) is unreadable once the old key is disabled or deleted.',
  },
  {
    type: 'AWS::Scheduler::ScheduleGroup',
    consequence: "Deleting the group deletes every tenant's schedule: no tenant imports on schedule until each one is saved again.",
  },
  {
    type: 'AWS::ApiGatewayV2::Api',
    consequence: "A new API has a new URL and ARN: Dado's backend (its configured URL, its execute-api:Invoke permission) calls one that is gone.",
  },
  {
    type: 'AWS::Events::EventBus',
    consequence:
      "A new bus has none of the rules consumers attached to it: Dado's services stop receiving user change events until each rule is made again on the new bus.",
  },
  {
    type: 'AWS::Events::Archive',
    consequence: 'A new, empty archive replaces it: the change events kept for replay are gone with the old one.',
  },
  {
    type: 'AWS::SNS::Topic',
    consequence: 'A new topic has none of the subscriptions made outside the stack: alarms stop reaching on-call and tickets until they subscribe again.',
  },
  {
    type: 'AWS::Lambda::Function',
    path: 'Functions/Fetch',
    logicalId: /^FunctionsFetch[0-9A-F]{8}$/,
    consequence:
      "Every tenant schedule stores the fetch's ARN: scheduled imports fail until the sweeper points the schedules at the new function (within one sweep period); queued asynchronous invocations of the old one are lost.",
  },
  {
    type: 'AWS::IAM::Role',
    path: 'Schedules/SchedulerRole',
    logicalId: /^SchedulesSchedulerRole[0-9A-F]{8}$/,
    consequence:
      "Every tenant schedule stores the scheduler role's ARN: Scheduler cannot invoke the fetch until the sweeper points the schedules at the new role (within one sweep period).",
  },
];

/** One resource line of `cdk diff`: `[~] AWS::SQS::Queue ImportQueue/Queue ImportQueueF3D6FFB8 replace`. */
export interface ResourceChange {
  stack: string;
  change: 'add' | 'update' | 'remove' | 'import';
  type: string;
  path?: string;
  logicalId: string;
  impact?: 'replace' | 'may be replaced' | 'destroy' | 'orphan' | 'import';
}

export interface BlockedChange extends ResourceChange {
  consequence: string;
}

const markers: Record<string, ResourceChange['change']> = { '+': 'add', '~': 'update', '-': 'remove', '←': 'import' };
const impacts = ['may be replaced', 'replace', 'destroy', 'orphan', 'import'] as const;
/** The resource types CloudFormation templates use; other lines of the same shape (outputs, parameters) are not resources. */
const RESOURCE_TYPE = /^(AWS|Alexa|Custom)::\S+$/;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/**
 * The resource lines of `cdk diff`'s text output (the format of @aws-cdk/cloudformation-diff's formatter: a marker, the
 * type, the construct path when known, the logical id, the impact, and a possible "(OR move …)" note), per stack.
 */
export function parseResourceChanges(output: string): ResourceChange[] {
  const changes: ResourceChange[] = [];
  let stack = '';
  for (const raw of output.replace(ANSI, '').split(/\r?\n/)) {
    const header = /^Stack (\S+)/.exec(raw);
    if (header) stack = header[1] ?? '';
    const line = /^\[([+~\-←])\] (\S+) (.+)$/.exec(raw.replace(/ \(OR move .*\)$/, '').trimEnd());
    if (!line || !RESOURCE_TYPE.test(line[2] ?? '')) continue;
    let rest = line[3] ?? '';
    const impact = impacts.find((i) => rest.endsWith(` ${i}`));
    if (impact) rest = rest.slice(0, -impact.length - 1);
    const words = rest.split(' ');
    const logicalId = words.pop() ?? '';
    const path = words.join(' ') || undefined;
    changes.push({ stack, change: markers[line[1] ?? ''] ?? 'update', type: line[2] ?? '', ...(path && { path }), logicalId, ...(impact && { impact }) });
  }
  return changes;
}

/** The changes that replace or remove a protected resource, unless its logical id is allowed. */
export function findBlockedChanges(output: string, allowed: ReadonlySet<string> = new Set()): BlockedChange[] {
  return parseResourceChanges(output).flatMap((change) => {
    const destructive = change.change === 'remove' || (change.change === 'update' && change.impact !== undefined && change.impact !== 'import');
    if (!destructive || allowed.has(change.logicalId)) return [];
    const rule = protectedResources.find(
      (r) =>
        r.type === change.type &&
        ((r.path === undefined && r.logicalId === undefined) || r.path === change.path || r.logicalId?.test(change.logicalId) === true),
    );
    return rule ? [{ ...change, consequence: rule.consequence }] : [];
  });
}

export function describeBlocked(blocked: readonly BlockedChange[]): string {
  const lines = blocked.map(
    (b) => `  - ${b.logicalId} (${b.type}${b.path ? `, ${b.path}` : ''}${b.stack ? ` in ${b.stack}` : ''}): ${b.impact ?? 'removed'}. ${b.consequence}`,
  );
  const allow = [...new Set(blocked.map((b) => `--allow-replacement ${b.logicalId}`))].join(' ');
  return [
    'This deployment would replace or delete resources that hold state or that something outside the stack points at:',
    ...lines,
    'If a construct id or a key schema changed by mistake, restore it (test/infra/upgrade.test.ts pins them).',
    `If the replacement is intended and its consequences are handled (infra/README.md, "Replacing a protected resource"), run again with: ${allow}`,
  ].join('\n');
}

export interface GuardArgs {
  command: 'diff' | 'deploy';
  allowed: Set<string>;
  /** Everything else, for the CDK CLI. */
  cdkArgs: string[];
}

export function parseGuardArgs(argv: readonly string[]): GuardArgs {
  const [command, ...rest] = argv;
  if (command !== 'diff' && command !== 'deploy')
    throw new Error('usage: tsx infra/diff-guard.ts diff|deploy [--allow-replacement <LogicalId>]... [cdk options]');
  const allowed = new Set<string>();
  const cdkArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    const inline = /^--allow-replacement=(.+)$/.exec(arg);
    if (inline) allowed.add(inline[1] ?? '');
    else if (arg === '--allow-replacement') {
      const id = rest[++i];
      if (!id || id.startsWith('-')) throw new Error('--allow-replacement needs the logical id of the resource, as the diff names it');
      allowed.add(id);
    } else cdkArgs.push(arg);
  }
  return { command, allowed, cdkArgs };
}

const cdkBin = fileURLToPath(new URL('../node_modules/aws-cdk/bin/cdk', import.meta.url));

/** Runs the CDK CLI, passing its output through as it comes, and returns its exit code and its output (both streams). */
export function runCdk(args: readonly string[], options: { echo?: boolean; cwd?: string } = {}): Promise<{ code: number; output: string }> {
  const echo = options.echo ?? true;
  const color = echo && process.stderr.isTTY && !process.env['NO_COLOR'] ? { FORCE_COLOR: '1' } : {};
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cdkBin, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...color },
      stdio: ['inherit', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (echo) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (echo) process.stderr.write(chunk);
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, output }));
  });
}

/** Where the diff's synth wrote the cloud assembly: `-o`/`--output`, or cdk.out. */
function outputDir(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const inline = /^(?:--output|-o)=(.+)$/.exec(arg);
    if (inline) return inline[1] ?? 'cdk.out';
    if (arg === '--output' || arg === '-o') return args[i + 1] ?? 'cdk.out';
  }
  return 'cdk.out';
}

export async function main(argv: readonly string[], run = runCdk): Promise<number> {
  const { command, allowed, cdkArgs } = parseGuardArgs(argv);
  const diff = await run(['diff', ...cdkArgs]);
  if (diff.code !== 0) {
    console.error(`cdk diff failed (exit ${diff.code}): nothing was checked${command === 'deploy' ? ', nothing deployed' : ''}.`);
    return diff.code;
  }
  const changes = parseResourceChanges(diff.output);
  if (/^Resources$/m.test(diff.output.replace(ANSI, '')) && changes.length === 0) {
    console.error("The diff lists resource changes, but none could be read: the CDK CLI's output format changed; update infra/diff-guard.ts.");
    return 1;
  }
  const blocked = findBlockedChanges(diff.output, allowed);
  if (blocked.length > 0) {
    console.error(`\n${describeBlocked(blocked)}`);
    return 1;
  }
  const allowedSeen = changes.filter((c) => allowed.has(c.logicalId));
  if (allowedSeen.length > 0)
    console.error(`\nAllowed by --allow-replacement: ${allowedSeen.map((c) => `${c.logicalId} (${c.impact ?? c.change})`).join(', ')}`);
  if (command === 'diff') return 0;

  const approval = cdkArgs.some((a) => a.startsWith('--require-approval')) ? [] : ['--require-approval', 'broadening'];
  const app = cdkArgs.some((a) => a === '--app' || a === '-a' || a.startsWith('--app=')) ? [] : ['--app', outputDir(cdkArgs)];
  return (await run(['deploy', ...app, ...approval, ...cdkArgs])).code;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  }
}
