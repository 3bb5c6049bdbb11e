import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Mapping } from '../mapping/mapping.js';
import { PersonioBudget, type PersonioBudgetOptions } from '../personio/budget.js';
import { sendConditional } from '../storage/conditional.js';
import { CodedError } from '../util/errors.js';
import { queryByPrefix } from '../storage/query.js';
import { runKeys, runPrefix, runSk } from '../storage/tables.js';
import { sumCounts, type MessageMarker, type PendingDeactivation } from './marker.js';
import { OpenDeltas } from './open-deltas.js';
import { RunProgressStore } from './progress-store.js';
import { DEFAULT_RUN_RETENTION_DAYS, expiresAfter } from './retention.js';
import { RunSideItems } from './side-items.js';
import { boundedFinding, newRunId, type EmployeeFailure, type Finding, type MessageCounts, type Run, type RunMode, type RunStatus } from './run.js';

export type { EmployeeFailure };
export type { MessageMarker, PendingDeactivation } from './marker.js';
export { sumCounts } from './marker.js';

/** Rejected employees kept on the run record (ids and reasons: ~50 bytes each). */
const MAX_REJECTED = 1_000;

export class RunStoreError extends CodedError<'run_moved_on'> {
  override readonly name = 'RunStoreError';
}

const runKey = (tenantId: string, runId: string) => ({ tenantId, sk: runSk(runId) });

export interface RunStoreOptions {
  /** Days a final run record is kept (lib/runs/retention.ts); the deployment sets it (RUN_RETENTION_DAYS). */
  retentionDays?: number;
  /** Personio's windows for the tenants' shared rate budget (tests scale them down). */
  budget?: PersonioBudgetOptions;
}

export class RunStore {
  /** The per-message bookkeeping (lib/runs/progress-store.ts), which the message methods below hand on to. */
  private readonly messages: RunProgressStore;
  /** Schedule firings and held runs' pending lists (lib/runs/side-items.ts). */
  private readonly side: RunSideItems;
  private readonly retentionDays: number;
  /** Each tenant's lease on its Personio rate budget, an item of this table (lib/personio/budget.ts). */
  readonly budget: PersonioBudget;
  /** Delta runs not known to be final, for the sweeper (lib/runs/open-deltas.ts). */
  readonly openDeltas: OpenDeltas;

  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    options: RunStoreOptions = {},
  ) {
    this.retentionDays = options.retentionDays ?? DEFAULT_RUN_RETENTION_DAYS;
    this.messages = new RunProgressStore(db, tableName, this.retentionDays);
    this.side = new RunSideItems(db, tableName);
    this.budget = new PersonioBudget(db, tableName, options.budget);
    this.openDeltas = new OpenDeltas(db, tableName);
  }

  /** Creates the run; undefined when a run with this id exists already (another delivery of the same fetch made it). */
  async create(input: {
    tenantId: string;
    runId: string;
    mode: RunMode;
    trigger: string;
    mapping: Mapping;
    startedAt: Date;
    leaseExpiresAt: number;
  }): Promise<Run | undefined> {
    const run: Run = {
      tenantId: input.tenantId,
      runId: input.runId,
      mode: input.mode,
      trigger: input.trigger,
      status: 'fetching',
      mapping: input.mapping,
      startedAt: input.startedAt.toISOString(),
      leaseExpiresAt: input.leaseExpiresAt,
      messagesProcessed: 0,
      employeesFetched: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      failed: 0,
      deactivated: 0,
      dynamoWriteRequests: 0,
      personioRequests: 0,
      personio429: 0,
      findings: [],
    };
    // Registered first: a delta run that exists is always one the sweeper can find (an entry without its run is retired).
    if (run.mode === 'delta') await this.openDeltas.add(run.tenantId, run.runId, input.startedAt);
    const created = await sendConditional(
      this.db,
      new PutCommand({ TableName: this.tableName, Item: { ...runKey(run.tenantId, run.runId), ...run }, ConditionExpression: 'attribute_not_exists(sk)' }),
    );
    return created ? run : undefined;
  }

  async get(tenantId: string, runId: string): Promise<Run | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: runKey(tenantId, runId), ConsistentRead: true }));
    return result.Item ? stripKeys(result.Item) : undefined;
  }

  /** The newest runs first. */
  async list(tenantId: string, limit: number): Promise<Run[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: runPrefix, newestFirst: true, limit });
    return items.map(stripKeys);
  }

  /**
   * The run with its counts as they stand: a run that is not completed or held (still running, or failed while its
   * messages kept landing) has its counts in its messages' markers, not yet on the record.
   */
  async withLiveCounts(run: Run): Promise<Run> {
    if (run.status === 'completed' || run.status === 'held' || run.status === 'approving') return run;
    return { ...run, ...sumCounts(await this.markers(run.tenantId, run.runId)) };
  }

  /**
   * Closes the fetch part: from now on the message that completes the set finishes the run. Answers whether every
   * message is already processed (then finishing is the caller's).
   */
  async closeFetch(
    tenantId: string,
    runId: string,
    fetch: {
      messagesSent: number;
      employeesFetched: number;
      personioTotal: number | undefined;
      personioRequests: number;
      personio429: number;
      findings: Finding[];
      rejected: EmployeeFailure[];
      at: Date;
      leaseExpiresAt: number;
      /** Delta runs: the Personio ids Personio answered 404 for. */
      gone?: number[];
    },
  ): Promise<{ complete: boolean }> {
    const closed = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression:
          'SET #status = :processing, messagesSent = :sent, employeesFetched = :employees, personioRequests = :requests, personio429 = :r429, fetchFinishedAt = :at, leaseExpiresAt = :lease, findings = :findings, rejected = :rejected, rejectedCount = :rejectedCount' +
          (fetch.personioTotal === undefined ? '' : ', personioTotal = :total') +
          (fetch.gone === undefined ? '' : ', gone = :gone'),
        ConditionExpression: '#status = :fetching',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':processing': 'processing',
          ':fetching': 'fetching',
          ':sent': fetch.messagesSent,
          ':employees': fetch.employeesFetched,
          ':requests': fetch.personioRequests,
          ':r429': fetch.personio429,
          ':at': fetch.at.toISOString(),
          ':lease': fetch.leaseExpiresAt,
          ':findings': fetch.findings.map(boundedFinding),
          // Ids and reasons only; bounded so a pathological tenant cannot make the run record unwritable.
          ':rejected': fetch.rejected.slice(0, MAX_REJECTED),
          ':rejectedCount': fetch.rejected.length,
          ...(fetch.personioTotal === undefined ? {} : { ':total': fetch.personioTotal }),
          ...(fetch.gone === undefined ? {} : { ':gone': fetch.gone }),
        },
      }),
    );
    // Refused: either the SDK repeated a close that had been applied (the answer was lost), or the run moved on
    // without this fetch (failed as stalled). Only the first is ours to go on with.
    if (!closed) {
      const run = await this.get(tenantId, runId);
      if (!run?.fetchFinishedAt || run.messagesSent !== fetch.messagesSent)
        throw new RunStoreError('run_moved_on', `Run ${runId} is ${run?.status ?? 'gone'}; its fetch could not close it.`);
    }
    return this.messages.setMessagesSent(tenantId, runId, fetch.messagesSent);
  }

  /**
   * Marks a run failed with its reason; a failed run never deactivates anyone. With `stalledBefore`, only a run whose
   * lease expired before then (a run that is still alive is left alone). False when the run had moved on.
   */
  async fail(
    tenantId: string,
    runId: string,
    failure: Finding,
    stats: { personioRequests?: number; personio429?: number; employeesFetched?: number },
    at: Date,
    options: { stalledBefore?: Date; claimedFinalization?: boolean } = {},
  ): Promise<boolean> {
    const values: Record<string, unknown> = {
      ':failed': 'failed',
      ':failure': boundedFinding(failure),
      ':at': at.toISOString(),
      ':expires': expiresAfter(at, this.retentionDays),
    };
    const sets = ['#status = :failed', 'failure = :failure', 'finishedAt = :at', `${runKeys.ttl} = :expires`];
    for (const [name, value] of Object.entries(stats)) {
      if (value === undefined) continue;
      sets.push(`${name} = :${name}`);
      values[`:${name}`] = value;
    }
    // `finalizing`: only by the caller that claimed the completion and found it cannot finish (its records expired).
    let condition: string;
    if (options.claimedFinalization) {
      condition = '#status = :finalizing';
      values[':finalizing'] = 'finalizing';
    } else {
      condition = '#status IN (:fetching, :processing)';
      Object.assign(values, { ':fetching': 'fetching', ':processing': 'processing' });
    }
    if (options.stalledBefore) {
      condition += ' AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt < :stalled)';
      values[':stalled'] = options.stalledBefore.getTime();
    }
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: `SET ${sets.join(', ')} REMOVE leaseExpiresAt`,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** Records a processed message exactly once; answers whether it is new and whether the run's set is complete. */
  async recordMessage(tenantId: string, runId: string, marker: MessageMarker): Promise<{ recorded: boolean; complete: boolean }> {
    return this.messages.recordMessage(tenantId, runId, marker);
  }

  async markers(tenantId: string, runId: string): Promise<MessageMarker[]> {
    return this.messages.markers(tenantId, runId);
  }

  /** Whether any message of the run was processed. */
  async processedAny(tenantId: string, runId: string): Promise<boolean> {
    return this.messages.processedAny(tenantId, runId);
  }

  /** Whether every message of the run is processed, and when the last one was. */
  async progress(tenantId: string, runId: string): Promise<{ complete: boolean; lastProgressAt: number | undefined }> {
    return this.messages.progress(tenantId, runId);
  }

  /** More time for a run still in `status` (false if it moved on meanwhile). */
  async extendLease(tenantId: string, runId: string, status: RunStatus, leaseExpiresAt: number): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET leaseExpiresAt = :lease',
        ConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':lease': leaseExpiresAt, ':status': status },
      }),
    );
  }

  /** Runs started after this one, oldest first, however many (run ids sort by start time). */
  async newerThan(tenantId: string, runId: string): Promise<Run[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'tenantId = :t AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':t': tenantId, ':from': `${runSk(runId)}\u0000`, ':to': `${runPrefix}\uffff` },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.map(stripKeys);
  }

  /** The tenant's runs started at or after `since`, newest first, with only the attributes asked for. */
  async startedSince(tenantId: string, since: Date, attributes: readonly (keyof Run)[]): Promise<Partial<Run>[]> {
    const names = Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name]));
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'tenantId = :t AND sk BETWEEN :from AND :to',
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          // Run ids start with their start time (newRunId), so the key range is the time range.
          ExpressionAttributeValues: { ':t': tenantId, ':from': runSk(newRunId(since).slice(0, -9)), ':to': `${runPrefix}\uffff` },
          ConsistentRead: true,
          ScanIndexForward: false,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items as Partial<Run>[];
  }

  /** An approval whose caller died, not to be finished (superseded, or disconnected): back to held, with a finding. */
  async abandonApproval(tenantId: string, runId: string, now: Date, finding: Finding): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET #status = :held, findings = list_append(findings, :finding) REMOVE leaseExpiresAt',
        ConditionExpression: '#status = :approving AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt < :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':held': 'held', ':approving': 'approving', ':now': now.getTime(), ':finding': [boundedFinding(finding)] },
      }),
    );
  }

  /**
   * Claims the run's completion once every message is in. The condition makes exactly one caller win when two
   * workers (or the fetch and a worker) see the last message at the same moment, refuses a run whose processing
   * lease expired (it has stalled: it is failed, not finished late), and lets a finalization whose worker died be
   * taken over once its own lease has expired.
   */
  async claimFinalization(tenantId: string, runId: string, now: Date, leaseExpiresAt: number, options: { late?: boolean } = {}): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET #status = :finalizing, leaseExpiresAt = :lease',
        // `late`: the settling of a run whose messages are all in but whose completion never started (the caller
        // checked the set is complete): finishing it is safe, since it still holds the tenant.
        ConditionExpression: `(#status = :processing${options.late ? '' : ' AND leaseExpiresAt >= :now'}) OR (#status = :finalizing AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt < :now))`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':finalizing': 'finalizing', ':processing': 'processing', ':now': now.getTime(), ':lease': leaseExpiresAt },
      }),
    );
  }

  /** Claims a held run for approval, or an approval whose caller died (its lease expired); false otherwise. */
  async claimApproval(tenantId: string, runId: string, now: Date, leaseExpiresAt: number): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET #status = :approving, leaseExpiresAt = :lease',
        ConditionExpression: '#status = :held OR (#status = :approving AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt < :now))',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':approving': 'approving', ':held': 'held', ':now': now.getTime(), ':lease': leaseExpiresAt },
      }),
    );
  }

  async finish(
    tenantId: string,
    runId: string,
    outcome: {
      from: 'finalizing' | 'approving';
      status: 'completed' | 'held';
      findings: Finding[];
      deactivated: number;
      at: Date;
      counts?: MessageCounts & { messagesProcessed: number };
      pendingDeactivations?: number;
      /** When a held run was decided (approved): its retention counts from then, not from when it was held (`at`). */
      decidedAt?: Date;
    },
  ): Promise<Run> {
    const values: Record<string, unknown> = {
      ':status': outcome.status,
      ':from': outcome.from,
      ':findings': outcome.findings.map(boundedFinding),
      ':deactivated': outcome.deactivated,
      ':at': outcome.at.toISOString(),
    };
    const sets = ['#status = :status', 'findings = :findings', 'deactivated = :deactivated', 'finishedAt = :at'];
    // A held run waits for a decision, however long: it only starts expiring once approved or superseded.
    if (outcome.status === 'completed') {
      sets.push(`${runKeys.ttl} = :expires`);
      values[':expires'] = expiresAfter(outcome.decidedAt ?? outcome.at, this.retentionDays);
    }
    const extra: Record<string, number | undefined> = { ...outcome.counts, pendingDeactivations: outcome.pendingDeactivations };
    for (const [name, value] of Object.entries(extra)) {
      if (value === undefined) continue;
      sets.push(`${name} = :${name}`);
      values[`:${name}`] = value;
    }
    const result = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: `SET ${sets.join(', ')} REMOVE leaseExpiresAt`,
        ConditionExpression: '#status = :from',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return stripKeys(result.Attributes ?? {});
  }

  /** See RunSideItems.runOfFiring. */
  runOfFiring(tenantId: string, scheduledAt: string, runId: string, now: Date): Promise<string> {
    return this.side.runOfFiring(tenantId, scheduledAt, runId, now);
  }

  /** See RunSideItems.savePending. */
  savePending(tenantId: string, runId: string, pending: PendingDeactivation[]): Promise<void> {
    return this.side.savePending(tenantId, runId, pending);
  }

  pending(tenantId: string, runId: string): Promise<PendingDeactivation[]> {
    return this.side.pending(tenantId, runId);
  }

  /** See RunSideItems.heldRunIds. */
  heldRunIds(tenantId: string): Promise<string[]> {
    return this.side.heldRunIds(tenantId);
  }

  /** See RunSideItems.retirePending. */
  retirePending(tenantId: string, runId: string, now: Date): Promise<number> {
    return this.side.retirePending(tenantId, runId, now);
  }

  /**
   * A held run that a newer run superseded is decided: it expires `retentionDays` from now (an expiry it has already is
   * kept) and its pending list is retired. False when it is no longer held (an approval claimed it meanwhile).
   */
  async retireHeld(tenantId: string, runId: string, now: Date): Promise<boolean> {
    const retired = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: `SET ${runKeys.ttl} = if_not_exists(${runKeys.ttl}, :expires)`,
        ConditionExpression: '#status = :held',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':held': 'held', ':expires': expiresAfter(now, this.retentionDays) },
      }),
    );
    if (retired) await this.side.retirePending(tenantId, runId, now);
    return retired;
  }
}

function stripKeys(item: Record<string, unknown>): Run {
  const { sk: _sk, ...run } = item;
  return run as unknown as Run;
}
