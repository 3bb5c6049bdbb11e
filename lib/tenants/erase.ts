import { DeleteSecretCommand, DescribeSecretCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BatchWriteCommand, DeleteCommand, GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryByPrefix } from '../storage/query.js';
import { blocksTenant, type RunStatus } from '../runs/run.js';
import type { ScheduleService } from '../schedules/schedules.js';
import { sendConditional } from '../storage/conditional.js';
import { runPrefix, userPrefix } from '../storage/tables.js';
import { CodedError, errorName } from '../util/errors.js';
import { tenantIdSchema } from './tenant-id.js';

export type EraseErrorCode = 'invalid_tenant' | 'run_in_progress' | 'erase_incomplete';

export class EraseError extends CodedError<EraseErrorCode> {
  override readonly name = 'EraseError';
}

type Db = Pick<DynamoDBDocumentClient, 'send'>;

export interface EraseDeps {
  db: Db;
  tables: { users: string; connections: string; runs: string; audit: string };
  /** The tenant's import schedule (only get and delete are used). */
  schedules: Pick<ScheduleService, 'get' | 'delete'>;
  secrets: Pick<SecretsManagerClient, 'send'>;
  /** Tenant secrets are `<secretPrefix><tenantId>` (lib/credentials/store.ts). */
  secretPrefix: string;
  now: () => Date;
  /** First pause before retrying items DynamoDB left unprocessed (doubling each time); default 100 ms. */
  retryBaseMs?: number;
}

export interface EraseOptions {
  /** Erase although a run of the tenant is in flight (it may write users afterwards: erase again once it has ended). */
  force?: boolean;
}

/** What was deleted: counts and ids only, never an employee's value. */
export interface EraseReport {
  tenantId: string;
  /** User records (`user#`), and every item under the tenant in the users table (records, Personio links, …). */
  users: number;
  userItems: number;
  /** Run records (`run#`), and every item under the tenant in the runs table (records, markers, progress, …). */
  runs: number;
  runItems: number;
  auditEntries: number;
  connection: number;
  schedule: number;
  secret: number;
  /** Runs that were in flight (only with `force`). */
  inFlight: string[];
}

const BATCH = 25;
const MAX_ATTEMPTS = 8;

/**
 * Erases everything the product holds about one tenant, on the customer's request (they leave; GDPR erasure): its
 * import schedule, its Personio secret (deleted at once, without the recovery window a disconnect keeps: nobody is
 * to restore it), its run records and the items beside them, its users, its audit entries (the trail of changes to
 * the tenant's connection names its people and settings: it is the tenant's data too), and its connection.
 *
 * Refused while a run of the tenant is in flight (its messages would write users again after the erase), unless
 * forced. Before anything is deleted, the tenant is stopped: the schedule goes and the connection is marked
 * disconnected, so no run can start; then in-flight runs are looked for again. Runs go before users: a message that
 * arrives later finds no run and writes nothing. The connection goes last, so an erase that stops half-way leaves a
 * disconnected tenant. Every step tolerates what is already gone, so erasing again finishes an erase that failed and
 * deletes nothing more after one that succeeded. Point-in-time backups of the tables keep their copies for their
 * window (35 days); nothing here reaches them.
 */
export async function eraseTenant(deps: EraseDeps, tenantId: string, options: EraseOptions = {}): Promise<EraseReport> {
  if (!tenantIdSchema.safeParse(tenantId).success) throw new EraseError('invalid_tenant', `"${tenantId}" is not a tenant id.`);
  const refuse = (inFlight: string[], after: string) =>
    new EraseError(
      'run_in_progress',
      `Tenant ${tenantId} has a run in flight (${inFlight.join(', ')}); ${after} Erase again once it has ended (a stalled run is failed by the sweeper within minutes of its lease), or force it and erase again after that.`,
    );
  const before = await runsInFlight(deps, tenantId);
  if (before.length > 0 && !options.force) throw refuse(before, 'nothing was changed.');

  const schedule = (await deps.schedules.get(tenantId)) ? 1 : 0;
  await deps.schedules.delete(tenantId);
  await stopConnection(deps, tenantId);
  const inFlight = await runsInFlight(deps, tenantId);
  if (inFlight.length > 0 && !options.force) throw refuse(inFlight, 'the tenant is disconnected now and its schedule deleted, so no new run starts.');

  const secret = await deleteSecret(deps, tenantId);
  const runs = await deletePartition(deps, deps.tables.runs, tenantId, runPrefix);
  const rest = await deletePartition(deps, deps.tables.runs, tenantId);
  const users = await deletePartition(deps, deps.tables.users, tenantId);
  const audit = await deletePartition(deps, deps.tables.audit, tenantId);
  const connection = (await sendConditional(
    deps.db,
    new DeleteCommand({ TableName: deps.tables.connections, Key: { tenantId }, ConditionExpression: 'attribute_exists(tenantId)' }),
  ))
    ? 1
    : 0;
  return {
    tenantId,
    users: users.keys.filter((sk) => sk.startsWith(userPrefix)).length,
    userItems: users.keys.length,
    runs: runs.keys.length,
    runItems: runs.keys.length + rest.keys.length,
    auditEntries: audit.keys.length,
    connection,
    schedule,
    secret,
    inFlight: [...new Set([...before, ...inFlight])],
  };
}

/** The tenant's runs that have not ended (a held run has), and a run accepted by "import now" whose fetch has not started. */
async function runsInFlight(deps: EraseDeps, tenantId: string): Promise<string[]> {
  const found: string[] = [];
  const ids = new Set<string>();
  const runs = await queryByPrefix(deps.db, {
    tableName: deps.tables.runs,
    tenantId,
    prefix: runPrefix,
    consistentRead: true,
    projection: ['runId', 'status'],
  });
  for (const item of runs) {
    const runId = String(item['runId']);
    ids.add(runId);
    if (blocksTenant(item['status'] as RunStatus)) found.push(runId);
  }
  const connection = (await deps.db.send(new GetCommand({ TableName: deps.tables.connections, Key: { tenantId }, ConsistentRead: true }))).Item;
  const claimed = connection?.['activeRunId'];
  const claimedUntil = connection?.['lockExpiresAt'];
  if (typeof claimed === 'string' && !ids.has(claimed) && typeof claimedUntil === 'number' && claimedUntil >= deps.now().getTime()) found.push(claimed);
  return found;
}

/** Marks the connection disconnected (if there is one): no fetch starts a run for it, "import now" is refused. */
async function stopConnection(deps: EraseDeps, tenantId: string): Promise<void> {
  const now = deps.now().toISOString();
  await sendConditional(
    deps.db,
    new UpdateCommand({
      TableName: deps.tables.connections,
      Key: { tenantId },
      UpdateExpression: 'SET #status = :disconnected, disconnectedAt = if_not_exists(disconnectedAt, :now), updatedAt = :now REMOVE schedule',
      ConditionExpression: 'attribute_exists(tenantId)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':disconnected': 'disconnected', ':now': now },
    }),
  );
}

/**
 * Deletes the secret at once, also one a disconnect scheduled for deletion (Secrets Manager allows forcing that).
 * Answers 1 if there was one. Secrets Manager finishes a forced deletion asynchronously: for a few seconds afterwards
 * the secret may still be described, so an immediate second erase may count it again.
 */
async function deleteSecret(deps: EraseDeps, tenantId: string): Promise<number> {
  const SecretId = `${deps.secretPrefix}${tenantId}`;
  let exists = true;
  try {
    await deps.secrets.send(new DescribeSecretCommand({ SecretId }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw wrapSecretError(error);
    exists = false;
  }
  if (!exists) return 0;
  try {
    await deps.secrets.send(new DeleteSecretCommand({ SecretId, ForceDeleteWithoutRecovery: true }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw wrapSecretError(error);
  }
  return 1;
}

function wrapSecretError(error: unknown): EraseError {
  return new EraseError('erase_incomplete', `Secrets Manager could not delete the tenant's secret (${errorName(error)}); erase again.`, { cause: error });
}

/**
 * Deletes every item under the tenant in `table` (only those whose sort key starts with `prefix`, if given), a page of
 * keys at a time, in batches of 25; items DynamoDB leaves unprocessed are sent again with back-off. Answers the sort
 * keys deleted (for the counts).
 */
async function deletePartition(deps: EraseDeps, table: string, tenantId: string, prefix?: string): Promise<{ keys: string[] }> {
  const keys: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.db.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: prefix ? 'tenantId = :t AND begins_with(sk, :p)' : 'tenantId = :t',
        ProjectionExpression: 'tenantId, sk',
        ExpressionAttributeValues: { ':t': tenantId, ...(prefix ? { ':p': prefix } : {}) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    const sks = (page.Items ?? []).map((item) => String(item['sk']));
    for (let i = 0; i < sks.length; i += BATCH) await deleteBatch(deps, table, tenantId, sks.slice(i, i + BATCH));
    keys.push(...sks);
    start = page.LastEvaluatedKey;
  } while (start);
  return { keys };
}

async function deleteBatch(deps: EraseDeps, table: string, tenantId: string, sks: string[]): Promise<void> {
  let requests: Record<string, unknown>[] = sks.map((sk) => ({ DeleteRequest: { Key: { tenantId, sk } } }));
  for (let attempt = 1; requests.length > 0; attempt++) {
    if (attempt > MAX_ATTEMPTS)
      throw new EraseError('erase_incomplete', `DynamoDB kept ${requests.length} deletion(s) in ${table} unprocessed; erase again (it resumes).`);
    if (attempt > 1) await sleep((deps.retryBaseMs ?? 100) * 2 ** (attempt - 2) * (0.5 + Math.random() / 2));
    const result = await deps.db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
    requests = (result.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
