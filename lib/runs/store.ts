import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Mapping } from '../mapping/mapping.js';
import { isFirstTransactConditionFailed, sendConditional } from '../storage/conditional.js';
import { queryByPrefix } from '../storage/query.js';
import { markerSk, runKeys, runMarkersPrefix, runPrefix, runSk } from '../storage/tables.js';
import { boundedFinding, type Finding, type MessageCounts, type Run, type RunMode, type RunStatus } from './run.js';

/** What a processed message leaves behind: ids it carried (for deactivation) and per-employee failures. */
export interface MessageMarker {
  seq: number;
  personioIds: number[];
  /** User fields whose attribute at least one employee of the message carried (absent = not readable). */
  presentFields: string[];
  failures: { personioId: number | null; reason: string }[];
}

/** Longer than the worker's timeout: a finalization older than this has died. */
const FINALIZATION_STALE_MS = 5 * 60_000;
/** Message markers only matter while their run finishes; DynamoDB's TTL removes them afterwards. */
const MARKER_TTL_S = 30 * 24 * 60 * 60;

const runKey = (tenantId: string, runId: string) => ({ tenantId, sk: runSk(runId) });
const markerKey = (tenantId: string, runId: string, seq: number) => ({ tenantId, sk: markerSk(runId, seq) });

export class RunStore {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async create(input: { tenantId: string; runId: string; mode: RunMode; trigger: string; mapping: Mapping; startedAt: Date }): Promise<Run> {
    const run: Run = {
      tenantId: input.tenantId,
      runId: input.runId,
      mode: input.mode,
      trigger: input.trigger,
      status: 'fetching',
      mapping: input.mapping,
      startedAt: input.startedAt.toISOString(),
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
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...runKey(run.tenantId, run.runId), ...run }, ConditionExpression: 'attribute_not_exists(sk)' }),
    );
    return run;
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

  /** Closes the fetch part: the worker may finish the run once it has processed this many messages. */
  async closeFetch(
    tenantId: string,
    runId: string,
    fetch: { messagesSent: number; employeesFetched: number; personioRequests: number; personio429: number; at: Date },
  ): Promise<Run> {
    const result = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression:
          'SET #status = :processing, messagesSent = :sent, employeesFetched = :employees, personioRequests = :requests, personio429 = :r429, fetchFinishedAt = :at',
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
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return stripKeys(result.Attributes ?? {});
  }

  /** Marks a run failed with its reason; a failed run never deactivates anyone. */
  async fail(tenantId: string, runId: string, failure: Finding, stats: { personioRequests: number; personio429: number; employeesFetched: number }, at: Date): Promise<void> {
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression:
          'SET #status = :failed, failure = :failure, finishedAt = :at, personioRequests = :requests, personio429 = :r429, employeesFetched = :employees',
        ConditionExpression: '#status IN (:fetching, :processing)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':failed': 'failed',
          ':fetching': 'fetching',
          ':processing': 'processing',
          ':failure': boundedFinding(failure),
          ':at': at.toISOString(),
          ':requests': stats.personioRequests,
          ':r429': stats.personio429,
          ':employees': stats.employeesFetched,
        },
      }),
    );
  }

  /**
   * Adds a message's counters exactly once: the marker put and the counter update commit together, so
   * a redelivered message (already marked) changes nothing. Answers false for such a duplicate.
   */
  async recordMessage(tenantId: string, runId: string, marker: MessageMarker, counts: MessageCounts): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...markerKey(tenantId, runId, marker.seq), runId, ...marker, [runKeys.ttl]: Math.floor(Date.now() / 1000) + MARKER_TTL_S },
                ConditionExpression: 'attribute_not_exists(sk)',
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: runKey(tenantId, runId),
                UpdateExpression:
                  'ADD messagesProcessed :one, created :created, updated :updated, unchanged :unchanged, failed :failed, dynamoWriteRequests :writes',
                ConditionExpression: 'attribute_exists(sk)',
                ExpressionAttributeValues: {
                  ':one': 1,
                  ':created': counts.created,
                  ':updated': counts.updated,
                  ':unchanged': counts.unchanged,
                  ':failed': counts.failed,
                  ':writes': counts.dynamoWriteRequests,
                },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isFirstTransactConditionFailed(error)) return false;
      throw error;
    }
  }

  async markers(tenantId: string, runId: string): Promise<MessageMarker[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: runMarkersPrefix(runId), consistentRead: true });
    return items.map((item) => ({
      seq: item['seq'] as number,
      personioIds: (item['personioIds'] as number[] | undefined) ?? [],
      presentFields: (item['presentFields'] as string[] | undefined) ?? [],
      failures: (item['failures'] as MessageMarker['failures'] | undefined) ?? [],
    }));
  }


  /**
   * Claims the run's completion once every message is in. The condition makes exactly one caller win
   * when two workers (or the fetch and a worker) see the last message at the same moment.
   */
  async claimFinalization(tenantId: string, runId: string, now: Date): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET #status = :finalizing, finalizingSince = :now',
        // A finalization whose worker died (timeout) may be taken over once it is clearly stale.
        ConditionExpression:
          'messagesProcessed >= messagesSent AND (#status = :processing OR (#status = :finalizing AND finalizingSince < :stale))',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':finalizing': 'finalizing',
          ':processing': 'processing',
          ':now': now.toISOString(),
          ':stale': new Date(now.getTime() - FINALIZATION_STALE_MS).toISOString(),
        },
      }),
    );
  }

  /** Claims a held run for approval; false when it is not held (any more). */
  async claimApproval(tenantId: string, runId: string): Promise<boolean> {
    return this.transition(tenantId, runId, 'held', 'approving');
  }

  async finish(
    tenantId: string,
    runId: string,
    outcome: { from: 'finalizing' | 'approving'; status: 'completed' | 'held'; findings: Finding[]; deactivated: number; at: Date },
  ): Promise<Run> {
    const result = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET #status = :status, findings = :findings, deactivated = :deactivated, finishedAt = :at',
        ConditionExpression: '#status = :from',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': outcome.status,
          ':from': outcome.from,
          ':findings': outcome.findings,
          ':deactivated': outcome.deactivated,
          ':at': outcome.at.toISOString(),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return stripKeys(result.Attributes ?? {});
  }

  private async transition(tenantId: string, runId: string, from: RunStatus, to: RunStatus): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(tenantId, runId),
        UpdateExpression: 'SET #status = :to',
        ConditionExpression: '#status = :from',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':to': to, ':from': from },
      }),
    );
  }
}

function stripKeys(item: Record<string, unknown>): Run {
  const { sk: _sk, ...run } = item;
  return run as unknown as Run;
}
