/**
 * The stage's kill switch for operators (lib/tenants/kill-switch.ts): pauses every import of a stage without a deploy,
 * shows whether one is in force, and resumes.
 *
 *   npx tsx ops/imports-switch.ts pause  --table <ConnectionsTableName> --reason "Personio incident INC-123"
 *   npx tsx ops/imports-switch.ts status --table <ConnectionsTableName>
 *   npx tsx ops/imports-switch.ts resume --table <ConnectionsTableName>
 *
 * The table is the stack's ConnectionsTableName output; the AWS credentials and region are the shell's (AWS_PROFILE,
 * AWS_REGION). Messages already in the import queue are still processed: to stop those too, disable the worker's event
 * source mapping (infra/README.md, "Pausing everything").
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../functions/shared/clients.js';
import { pauseImports, readImportsPause, resumeImports } from '../lib/tenants/kill-switch.js';

export const usage = `Usage: npx tsx ops/imports-switch.ts <pause|resume|status> --table <ConnectionsTableName> [--reason TEXT]
  pause   stop every import of the stage (fetches start no run; "import now" answers 503 imports_paused); --reason is required
  resume  let imports run again (the next scheduled firing of each tenant imports)
  status  say whether imports are paused, since when and why`;

export interface SwitchIo {
  db: Pick<DynamoDBDocumentClient, 'send'>;
  now: () => Date;
  out: (line: string) => void;
}

/** Runs one command; answers the process's exit code (2: a usage error, printed with the usage). */
export async function runImportsSwitch(argv: readonly string[], io: SwitchIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.out(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    return 2;
  }
  const { command, table, reason } = parsed;
  if (command === 'pause') {
    await pauseImports(io.db, table, { since: io.now(), reason: reason ?? '' });
    io.out(`Imports of ${table} are paused. Queued messages are still processed; resume with: npx tsx ops/imports-switch.ts resume --table ${table}`);
  } else if (command === 'resume') {
    await resumeImports(io.db, table);
    io.out(`Imports of ${table} run again: each tenant's next scheduled firing imports; "import now" is accepted.`);
  } else {
    const pause = await readImportsPause(io.db, table);
    io.out(
      pause ? `Imports of ${table} are paused since ${pause.since ?? '(not recorded)'}: ${pause.reason ?? '(no reason recorded)'}` : `Imports of ${table} run.`,
    );
  }
  return 0;
}

function parse(argv: readonly string[]): { command: 'pause' | 'resume' | 'status'; table: string; reason: string | undefined } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { table: { type: 'string' }, reason: { type: 'string' } },
    allowPositionals: true,
  });
  const [command, ...extra] = positionals;
  if (command !== 'pause' && command !== 'resume' && command !== 'status') throw new Error(`Unknown command ${command ?? '(none)'}.`);
  if (extra.length > 0) throw new Error(`Unexpected arguments: ${extra.join(' ')}.`);
  if (!values.table?.trim()) throw new Error('--table is required (the stack output ConnectionsTableName).');
  if (command === 'pause' && !values.reason?.trim()) throw new Error('--reason is required to pause: the next operator reads it.');
  if (command !== 'pause' && values.reason !== undefined) throw new Error('--reason goes with pause only.');
  return { command, table: values.table.trim(), reason: values.reason?.trim() };
}

// Run as a script (not when a test imports it).
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const code = await runImportsSwitch(process.argv.slice(2), { db: createDocumentClient(), now: () => new Date(), out: (line) => console.log(line) }).catch(
    (error: unknown) => {
      console.error(`Failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      return 1;
    },
  );
  process.exitCode = code;
}
