import { parseArgs } from 'node:util';
import { formatViolation, replay, simulate } from './simulation.js';
import { World } from './world.js';

/**
 * `npm run simulate -- --sequences N --seed S [--max-commands C] [--shrinks K]`
 *
 * Runs N lifecycle sequences (seeds S, S+1, …) on the local stack, prints one line per invariant violation with its
 * seed and the shortest failing sequence, then `N sequences, V invariant violations`; exits 1 on any violation.
 * `--replay "<a report's shortest sequence>"` runs that sequence again (LIFECYCLE_TRACE=1 prints every step);
 * `--ignore <invariant prefix>` (repeatable) looks past an invariant that most sequences break, to find the others.
 */

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['POWERTOOLS_METRICS_DISABLED'] ??= 'true';
// Powertools warns on every invocation that published no metric; nothing reads metrics here.
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && chunk.startsWith('No application metrics to publish') ? true : write(chunk, ...rest)) as typeof stream.write;
}

const usage =
  'usage: simulate [--sequences N] [--seed S] [--max-commands C] [--shrinks K] [--ignore "inv3 one run"]… [--quiet] [--coverage]\n' +
  '       simulate --replay "Tenant(3 employees, simulator seed 1) → Connect → … → Settle"   (LIFECYCLE_TRACE=1 prints each step)';

function number(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer\n${usage}\n`);
    process.exit(2);
  }
  return n;
}

/** The command line's options; throws on an unknown or malformed one. */
function parseOptions() {
  return parseArgs({
    options: {
      sequences: { type: 'string' },
      seed: { type: 'string' },
      'max-commands': { type: 'string' },
      shrinks: { type: 'string' },
      replay: { type: 'string' },
      ignore: { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
      coverage: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  }).values;
}

async function main(): Promise<number> {
  let values: ReturnType<typeof parseOptions>;
  try {
    values = parseOptions();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const sequences = number(values.sequences, 5, 'sequences');
  const seed = number(values.seed, 1, 'seed');
  const world = await World.start();
  try {
    if (values.replay) {
      const violation = await replay(world, values.replay, { ignore: values.ignore ?? [] });
      process.stdout.write(violation ? `${formatViolation(violation)}\n` : 'the sequence kept every invariant\n');
      return violation ? 1 : 0;
    }
    const result = await simulate(world, {
      sequences,
      seed,
      maxCommands: number(values['max-commands'], 40, 'max-commands'),
      shrinks: number(values.shrinks, 60, 'shrinks'),
      ...(values.ignore ? { ignore: values.ignore } : {}),
      onSequence: (done, violation) => {
        if (violation) process.stdout.write(`${formatViolation(violation)}\n`);
        else if (!values.quiet) process.stderr.write(`sequence ${done}/${sequences} ok\n`);
      },
    });
    for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
    if (values.coverage) for (const [name, count] of result.coverage) process.stderr.write(`  ${String(count).padStart(6)}  ${name}\n`);
    const byInvariant = new Map<string, number>();
    for (const v of result.violations) byInvariant.set(v.invariant, (byInvariant.get(v.invariant) ?? 0) + 1);
    for (const [invariant, count] of byInvariant) process.stderr.write(`  ${invariant}: ${count}\n`);
    process.stdout.write(`${result.sequences} sequences, ${result.violations.length} invariant violations (${(result.durationMs / 1000).toFixed(1)} s)\n`);
    return result.violations.length > 0 ? 1 : 0;
  } finally {
    await world.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`simulate failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
