/**
 * One-off, after deploying the release that made runs expire (lib/runs/retention.ts): items the runs table got before
 * it never expire, since only the writes that make a run final set the expiry. Run once per stage, by an operator:
 *
 *   npx tsx ops/backfill-run-expiry.ts --region eu-central-1 --runs-table <RunsTableName> --retention-days 400
 *
 * (`--retention-days` as the stage's `runRetentionDays` in cdk.json.) It sets what the release would have set, and
 * nothing that is already set: a completed or failed run expires `retentionDays` after it finished; a progress item
 * `retentionDays` plus the margin from now; a pending list of a run no longer held is emptied and expires; a held run without a
 * pending list gets an empty one, so the next run that supersedes it finds it. Held and running runs keep no expiry.
 * Safe to run again, and while imports run (every write is conditional on what it read).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expiresAfter, PROGRESS_MARGIN_DAYS } from '../lib/runs/retention.js';
import { RunStore } from '../lib/runs/store.js';
import { sendConditional } from '../lib/storage/conditional.js';
import { withContentionRetry } from '../lib/storage/contention.js';
import { pendingPrefix, progressPrefix, runKeys, runPrefix } from '../lib/storage/tables.js';
import { forEachLimited } from '../lib/util/concurrency.js';

type Db = Pick<DynamoDBDocumentClient, 'send'>;

export interface BackfillDeps {
  db: Db;
  tableName: string;
  retentionDays: number;
  now: () => Date;
  /** Parallel scan segments (each a sequential scan of its share of the table). */
  segments?: number;
}

export interface BackfillOutcome {
  runsExpiring: number;
  progressExpiring: number;
  pendingListsRetired: number;
  heldRunsIndexed: number;
}

const WRITES_IN_FLIGHT = 16;

export async function backfillRunExpiry(deps: BackfillDeps): Promise<BackfillOutcome> {
  const runs = new RunStore(deps.db, deps.tableName, { retentionDays: deps.retentionDays });
  const outcome: BackfillOutcome = { runsExpiring: 0, progressExpiring: 0, pendingListsRetired: 0, heldRunsIndexed: 0 };
  const retiredLists = new Set<string>();
  const segments = deps.segments ?? 4;

  const visit = async (item: Record<string, unknown>): Promise<void> => {
    const tenantId = String(item['tenantId']);
    const sk = String(item['sk']);
    const status = item['status'];
    if (sk.startsWith(runPrefix) && (status === 'completed' || status === 'failed')) {
      const finished = typeof item['finishedAt'] === 'string' ? new Date(item['finishedAt']) : deps.now();
      if (await setExpiry(deps, { tenantId, sk }, expiresAfter(finished, deps.retentionDays), status)) outcome.runsExpiring++;
    } else if (sk.startsWith(runPrefix) && status === 'held') {
      const runId = String(item['runId']);
      if (!(await runs.heldRunIds(tenantId)).includes(runId)) {
        await runs.savePending(tenantId, runId, []);
        outcome.heldRunsIndexed++;
      }
    } else if (sk.startsWith(progressPrefix)) {
      if (await setExpiry(deps, { tenantId, sk }, expiresAfter(deps.now(), deps.retentionDays + PROGRESS_MARGIN_DAYS))) outcome.progressExpiring++;
    } else if (sk.startsWith(pendingPrefix)) {
      const runId = String(item['runId']);
      const key = `${tenantId}/${runId}`;
      if (retiredLists.has(key)) return;
      const run = await runs.get(tenantId, runId);
      // Only a decided run's list retires: one still being finalized wrote its list before it is marked held.
      if (run && run.status !== 'completed' && run.status !== 'failed') return;
      retiredLists.add(key);
      if ((await runs.retirePending(tenantId, runId, deps.now())) > 0) outcome.pendingListsRetired++;
    }
  };

  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await deps.db.send(
          new ScanCommand({
            TableName: deps.tableName,
            // Only what has no expiry: markers and firings always had one.
            FilterExpression: `attribute_not_exists(${runKeys.ttl})`,
            ProjectionExpression: 'tenantId, sk, runId, #status, finishedAt',
            ExpressionAttributeNames: { '#status': 'status' },
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: start,
          }),
        );
        await forEachLimited(page.Items ?? [], WRITES_IN_FLIGHT, visit);
        start = page.LastEvaluatedKey;
      } while (start);
    }),
  );
  return outcome;
}

/** Sets an expiry where none is (and, for a run record, only while its status is still the one read). */
function setExpiry(deps: BackfillDeps, key: { tenantId: string; sk: string }, expiresAt: number, status?: string): Promise<boolean> {
  return sendConditional(
    deps.db,
    new UpdateCommand({
      TableName: deps.tableName,
      Key: key,
      UpdateExpression: `SET ${runKeys.ttl} = :expires`,
      ConditionExpression: `attribute_exists(sk) AND attribute_not_exists(${runKeys.ttl})${status ? ' AND #status = :status' : ''}`,
      ...(status ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
      ExpressionAttributeValues: { ':expires': expiresAt, ...(status ? { ':status': status } : {}) },
    }),
  );
}

export const usage = `Usage: npx tsx ops/backfill-run-expiry.ts --region REGION --runs-table NAME --retention-days N [--segments S]

Gives the runs table's items from before runs expired the expiry the current release sets (see the file's comment).`;

export async function main(argv: string[], io: { out: (t: string) => void; err: (t: string) => void }): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { region: { type: 'string' }, 'runs-table': { type: 'string' }, 'retention-days': { type: 'string' }, segments: { type: 'string' } },
    }).values;
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  const days = Number(values['retention-days']);
  const segments = Number(values['segments'] ?? 4);
  const region = values['region'];
  const table = values['runs-table'];
  if (typeof region !== 'string' || typeof table !== 'string' || !Number.isInteger(days) || days < 1 || !Number.isInteger(segments) || segments < 1) {
    io.err(usage);
    return 2;
  }
  const db = withContentionRetry(DynamoDBDocumentClient.from(new DynamoDBClient({ region })));
  const outcome = await backfillRunExpiry({ db, tableName: table, retentionDays: days, now: () => new Date(), segments });
  io.out(JSON.stringify(outcome, null, 2));
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), { out: (t) => console.log(t), err: (t) => console.error(t) });
}
