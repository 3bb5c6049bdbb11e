import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { MappedEmployee } from '../mapping/map-employee.js';
import { contentHash, mergeContent, toUserRecord, type StoredUser, type UserRecord } from './user.js';
import { userKeys } from '../storage/tables.js';

export interface UpsertFailure {
  personioId: number;
  reason: 'missing_email' | 'email_taken' | 'conflict';
}

export interface UpsertOutcome {
  created: number;
  updated: number;
  unchanged: number;
  failures: UpsertFailure[];
  /** Items written (a two-item transaction counts two): what DynamoDB bills as write requests. */
  writeRequests: number;
}

interface Link {
  userId: string;
}

const userSk = (userId: string) => `user#${userId}`;
const linkSk = (personioId: number) => `personio#${personioId}`;
const CONCURRENCY = 16;

/**
 * Users of a tenant, keyed by a stable user id. The link `personio#<id>` → userId is created with a
 * condition in the same transaction as a new user, so duplicate or concurrent deliveries of one
 * employee can never create two users; later imports find the user through the link, whatever
 * happened to the email.
 */
export class UserStore {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async upsertMany(tenantId: string, employees: MappedEmployee[], source: ImportSource): Promise<UpsertOutcome> {
    const outcome: UpsertOutcome = { created: 0, updated: 0, unchanged: 0, failures: [], writeRequests: 0 };
    if (employees.length === 0) return outcome;

    const wanted = new Set<number>();
    for (const e of employees) {
      wanted.add(e.personioId);
      if (typeof e.fields.managerPersonioId === 'number') wanted.add(e.fields.managerPersonioId);
    }
    const links = await this.getLinks(tenantId, [...wanted]);
    const users = await this.getUsers(tenantId, employees.map((e) => links.get(e.personioId)?.userId).filter((id): id is string => !!id));

    await forEachLimited(employees, CONCURRENCY, async (employee) => {
      const link = links.get(employee.personioId);
      const managerUserId = typeof employee.fields.managerPersonioId === 'number' ? links.get(employee.fields.managerPersonioId)?.userId : undefined;
      const result = link
        ? await this.update(tenantId, users.get(link.userId), link.userId, employee, managerUserId, source)
        : await this.createOrLink(tenantId, employee, managerUserId, source);
      outcome.writeRequests += result.writes;
      if (result.kind === 'failed') outcome.failures.push({ personioId: employee.personioId, reason: result.reason });
      else outcome[result.kind]++;
    });
    return outcome;
  }

  /** Every user of the tenant (the `--dump-users` view). */
  async list(tenantId: string): Promise<UserRecord[]> {
    const users: UserRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'tenantId = :t AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':t': tenantId, ':p': 'user#' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) users.push(toUserRecord(item as unknown as StoredUser));
      start = page.LastEvaluatedKey;
    } while (start);
    return users;
  }

  /**
   * Changes that the run's completion derives (deactivation, manager links) rather than Personio's
   * payload; the content hash follows so the next import sees them as current.
   */
  async applyDerived(
    tenantId: string,
    user: UserRecord,
    changes: Partial<Pick<UserRecord, 'active' | 'managerUserId' | 'deactivatedAt' | 'deactivationReason'>>,
  ): Promise<void> {
    const next = { ...user, ...changes };
    const values: Record<string, unknown> = { ...changes, contentHash: contentHash(next), updatedAt: this.now().toISOString() };
    const set = setExpression(values);
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(user.userId) },
        UpdateExpression: `SET ${set.expression}`,
        ConditionExpression: 'attribute_exists(sk)',
        ExpressionAttributeNames: set.names,
        ExpressionAttributeValues: set.values,
      }),
    );
  }

  private async update(
    tenantId: string,
    current: StoredUser | undefined,
    userId: string,
    employee: MappedEmployee,
    managerUserId: string | undefined,
    source: ImportSource,
  ): Promise<Result> {
    if (!current) {
      // A link without its user: a half-finished write from an older version; re-create the user.
      return this.writeUser(tenantId, userId, undefined, employee, managerUserId, source, 'created');
    }
    if (current.syncedAt && current.syncedAt > source.fetchedAt) return { kind: 'unchanged', writes: 0 };
    return this.writeUser(tenantId, userId, current, employee, managerUserId, source, 'updated');
  }

  private async writeUser(
    tenantId: string,
    userId: string,
    current: StoredUser | undefined,
    employee: MappedEmployee,
    managerUserId: string | undefined,
    source: ImportSource,
    kind: 'created' | 'updated',
  ): Promise<Result> {
    const content = mergeContent(current, employee);
    if (managerUserId !== undefined) content.managerUserId = managerUserId;
    // Back in Personio after a deactivation: active again unless Personio says inactive.
    const reactivated = !!current?.deactivatedAt;
    if (reactivated) content.active = content.status !== 'inactive';
    const hash = contentHash(content);
    if (current && current.contentHash === hash && !reactivated) return { kind: classifyUnwritten(current, source), writes: 0 };
    if (!content.email) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    const now = this.now().toISOString();
    const values: Record<string, unknown> = {
      ...content,
      ...(reactivated ? { deactivatedAt: null, deactivationReason: null } : {}),
      personioId: employee.personioId,
      userId,
      emailKey: content.email.toLowerCase(),
      contentHash: hash,
      syncedAt: source.fetchedAt,
      changedInRun: source.runId,
      updatedAt: now,
    };
    const set = setExpression(values);
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { tenantId, sk: userSk(userId) },
          UpdateExpression: `SET ${set.expression}, createdAt = if_not_exists(createdAt, :now)`,
          // Never let an older message's data replace data fetched later.
          ConditionExpression: 'attribute_not_exists(syncedAt) OR syncedAt <= :fetchedAt',
          ExpressionAttributeNames: set.names,
          ExpressionAttributeValues: { ...set.values, ':fetchedAt': source.fetchedAt, ':now': now },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'unchanged', writes: 0 };
      throw error;
    }
    return { kind, writes: 1 };
  }

  private async createOrLink(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    const email = employee.fields.email;
    if (!email) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    const existing = await this.findByEmail(tenantId, email);
    if (existing) {
      if (existing.personioId !== undefined && existing.personioId !== employee.personioId) return { kind: 'failed', reason: 'email_taken', writes: 0 };
      return this.link(tenantId, existing.userId, employee, managerUserId, source);
    }

    const userId = randomUUID();
    const content = mergeContent(undefined, employee);
    if (managerUserId !== undefined) content.managerUserId = managerUserId;
    const now = this.now().toISOString();
    const item: StoredUser = {
      ...content,
      tenantId,
      sk: userSk(userId),
      userId,
      personioId: employee.personioId,
      email,
      emailKey: email.toLowerCase(),
      contentHash: contentHash(content),
      syncedAt: source.fetchedAt,
      createdInRun: source.runId,
      changedInRun: source.runId,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: { tenantId, sk: linkSk(employee.personioId), userId }, ConditionExpression: 'attribute_not_exists(sk)' } },
            { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(sk)' } },
          ],
        }),
      );
      return { kind: 'created', writes: 2 };
    } catch (error) {
      if (!isLinkTaken(error)) throw error;
      // A concurrent delivery of the same employee created it first: update that user instead.
      return this.retryThroughLink(tenantId, employee, managerUserId, source);
    }
  }

  /** Links an existing Dado user (same email, no Personio link yet) instead of creating a duplicate. */
  private async link(tenantId: string, userId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: { tenantId, sk: linkSk(employee.personioId), userId }, ConditionExpression: 'attribute_not_exists(sk)' } },
            {
              Update: {
                TableName: this.tableName,
                Key: { tenantId, sk: userSk(userId) },
                UpdateExpression: 'SET personioId = :pid',
                ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(personioId) OR personioId = :pid)',
                ExpressionAttributeValues: { ':pid': employee.personioId },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!isLinkTaken(error)) throw error;
      return this.retryThroughLink(tenantId, employee, managerUserId, source);
    }
    const [current] = (await this.getUsers(tenantId, [userId])).values();
    const result = await this.writeUser(tenantId, userId, current, employee, managerUserId, source, 'updated');
    return { ...result, writes: result.writes + 2 };
  }

  private async retryThroughLink(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    const link = (await this.getLinks(tenantId, [employee.personioId])).get(employee.personioId);
    if (!link) return { kind: 'failed', reason: 'conflict', writes: 0 };
    const current = (await this.getUsers(tenantId, [link.userId])).get(link.userId);
    return this.update(tenantId, current, link.userId, employee, managerUserId, source);
  }

  private async findByEmail(tenantId: string, email: string): Promise<{ userId: string; personioId: number | undefined } | undefined> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: userKeys.emailIndex,
        KeyConditionExpression: 'tenantId = :t AND emailKey = :e',
        ExpressionAttributeValues: { ':t': tenantId, ':e': email.toLowerCase() },
        Limit: 1,
      }),
    );
    const key = result.Items?.[0];
    if (!key) return undefined;
    const userId = String(key['sk']).slice('user#'.length);
    const user = (await this.getUsers(tenantId, [userId])).get(userId);
    return user ? { userId, personioId: user.personioId } : undefined;
  }

  private async getLinks(tenantId: string, personioIds: number[]): Promise<Map<number, Link>> {
    const items = await this.batchGet(personioIds.map((id) => ({ tenantId, sk: linkSk(id) })));
    return new Map(items.map((item) => [Number(String(item['sk']).slice('personio#'.length)), { userId: String(item['userId']) }]));
  }

  private async getUsers(tenantId: string, userIds: string[]): Promise<Map<string, StoredUser>> {
    const items = await this.batchGet(userIds.map((id) => ({ tenantId, sk: userSk(id) })));
    return new Map(items.map((item) => [String(item['userId']), item as unknown as StoredUser]));
  }

  /** BatchGetItem in chunks of 100, re-asking for unprocessed keys with back-off. */
  private async batchGet(keys: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const unique = [...new Map(keys.map((k) => [JSON.stringify(k), k])).values()];
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = unique.slice(i, i + 100);
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(50 * 2 ** attempt, 2_000));
        if (attempt > 8) throw new Error('DynamoDB kept keys unprocessed after 8 attempts');
        const result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }));
        found.push(...(result.Responses?.[this.tableName] ?? []));
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }
}

/** Which run and fetch the data comes from. */
export interface ImportSource {
  runId: string;
  fetchedAt: string;
}

/**
 * What a write that did not happen means for the report: if another delivery of this run already
 * created or changed the user, this employee counts as that, so concurrent duplicate deliveries of a
 * message report the same numbers whichever of them is recorded.
 */
function classifyUnwritten(current: StoredUser, source: ImportSource): 'created' | 'updated' | 'unchanged' {
  if (current.createdInRun === source.runId) return 'created';
  if (current.changedInRun === source.runId) return 'updated';
  return 'unchanged';
}

type Result =
  | { kind: 'created' | 'updated' | 'unchanged'; writes: number }
  | { kind: 'failed'; reason: UpsertFailure['reason']; writes: number };

/** `SET #f0 = :v0, …` over arbitrary attribute names (some, like `status`, are reserved words). */
function setExpression(values: Record<string, unknown>): { expression: string; names: Record<string, string>; values: Record<string, unknown> } {
  const names: Record<string, string> = {};
  const placeholders: Record<string, unknown> = {};
  const parts = Object.entries(values).map(([k, v], i) => {
    names[`#f${i}`] = k;
    placeholders[`:v${i}`] = v;
    return `#f${i} = :v${i}`;
  });
  return { expression: parts.join(', '), names, values: placeholders };
}

function isLinkTaken(error: unknown): boolean {
  return error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

