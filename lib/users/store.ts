import { createHash } from 'node:crypto';
import {
  BatchGetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { MappedEmployee } from '../mapping/map-employee.js';
import { decideEmail, EmailHolders } from './email-holders.js';
import { contentHash, mergeContent, pickContent, toUserRecord, type StoredUser, type UserRecord } from './user.js';
import { isFirstTransactConditionFailed, isTransactConditionFailedAt, isTransientStoreError, sendConditional } from '../storage/conditional.js';
import { queryByPrefix } from '../storage/query.js';
import { linkPrefix, linkSk, userKeys, userPrefix, userSk } from '../storage/tables.js';
import { forEachLimited, sleep } from '../util/concurrency.js';

export interface UpsertFailure {
  personioId: number;
  reason: 'missing_email' | 'email_taken' | 'conflict' | 'not_storable';
  /** For email_taken: the Personio employee whose user holds the address. */
  otherPersonioId?: number;
}

export interface UpsertOutcome {
  created: number;
  updated: number;
  unchanged: number;
  failures: UpsertFailure[];
  /** Employees whose address waits for the run's completion (see `ImportSource.final`). */
  deferred: MappedEmployee[];
  /** Items written (a two-item transaction counts two): what DynamoDB bills as write requests. */
  writeRequests: number;
}

const CONCURRENCY = 16;

/**
 * The id of a user the import creates: a name-based UUID of tenant and Personio id, so every delivery
 * of an employee derives the same one.
 */
export function personioUserId(tenantId: string, personioId: number): string {
  const hash = createHash('sha1').update(`dado:${tenantId}:personio:${personioId}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Users of a tenant, keyed by a stable user id. A user the import creates gets an id derived from
 * its Personio id and is created with a condition, so duplicate or concurrent deliveries can never
 * create two users, and one write per new user is all it costs. A user that existed in Dado before
 * (same email, no Personio link) keeps its id and gets a link item `personio#<id>` → userId, written
 * conditionally with the link on the user. Later imports find users through either, whatever
 * happened to the email since.
 */
export class UserStore {
  private readonly emails: EmailHolders;

  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.emails = new EmailHolders(db, tableName, (tenantId, userIds) => this.getUsers(tenantId, userIds), now);
  }

  async upsertMany(tenantId: string, employees: MappedEmployee[], source: ImportSource): Promise<UpsertOutcome> {
    const outcome: UpsertOutcome = { created: 0, updated: 0, unchanged: 0, failures: [], deferred: [], writeRequests: 0 };
    if (employees.length === 0) return outcome;

    const wanted = new Set<number>();
    for (const e of employees) {
      wanted.add(e.personioId);
      if (typeof e.fields.managerPersonioId === 'number') wanted.add(e.fields.managerPersonioId);
    }
    const known = await this.resolve(tenantId, [...wanted]);

    await forEachLimited(employees, CONCURRENCY, async (employee) => {
      const existing = known.get(employee.personioId);
      const managerId = employee.fields.managerPersonioId;
      // A manager not imported yet will get the derived id; the run's completion corrects the rare
      // case where it never arrives or is linked to an existing Dado user instead.
      const managerUserId = typeof managerId === 'number' ? (known.get(managerId)?.userId ?? personioUserId(tenantId, managerId)) : undefined;
      let result: Result;
      try {
        result = existing
          ? await this.update(tenantId, existing.user, existing.userId, employee, managerUserId, source)
          : await this.createOrLink(tenantId, employee, managerUserId, source);
      } catch (error) {
        // One employee never fails the message: a value DynamoDB will never accept is that employee's failure.
        // Anything that may pass on a retry (throttling, a timeout, a 5xx) still retries the message.
        if (isTransientStoreError(error)) throw error;
        result = { kind: 'failed', reason: 'not_storable', writes: 0 };
      }
      outcome.writeRequests += result.writes;
      if (result.kind === 'failed') {
        outcome.failures.push({ personioId: employee.personioId, reason: result.reason, ...(result.otherPersonioId !== undefined ? { otherPersonioId: result.otherPersonioId } : {}) });
      } else if (result.kind === 'deferred') outcome.deferred.push(employee);
      else outcome[result.kind]++;
    });
    return outcome;
  }

  /**
   * Finds the users of Personio employees with batched reads only: the link item (for users that
   * existed in Dado before and were linked by email) and the user the import itself would have
   * created under its derived id.
   */
  private async resolve(tenantId: string, personioIds: number[]): Promise<Map<number, { userId: string; user: StoredUser | undefined }>> {
    const items = await this.batchGet(personioIds.flatMap((id) => [{ tenantId, sk: linkSk(id) }, { tenantId, sk: userSk(personioUserId(tenantId, id)) }]));
    const links = new Map<number, string>();
    const users = new Map<string, StoredUser>();
    for (const item of items) {
      const sk = String(item['sk']);
      if (sk.startsWith(linkPrefix)) links.set(Number(sk.slice(linkPrefix.length)), String(item['userId']));
      else users.set(String(item['userId']), item as unknown as StoredUser);
    }
    const linkedUsers = [...links.values()].filter((userId) => !users.has(userId));
    for (const [userId, user] of await this.getUsers(tenantId, linkedUsers)) users.set(userId, user);

    const resolved = new Map<number, { userId: string; user: StoredUser | undefined }>();
    for (const id of personioIds) {
      const linked = links.get(id);
      const userId = linked ?? personioUserId(tenantId, id);
      const user = users.get(userId);
      if (linked || user) resolved.set(id, { userId, user });
    }
    return resolved;
  }

  /** The users already imported for these Personio employees (batched reads only), keyed by Personio id. */
  async getByPersonioIds(tenantId: string, personioIds: number[]): Promise<Map<number, UserRecord>> {
    const found = new Map<number, UserRecord>();
    for (const [id, { user }] of await this.resolve(tenantId, personioIds)) if (user) found.set(id, toUserRecord(user));
    return found;
  }

  /** Every user holding the address: what the mapping preview explains an import's email decision from. */
  async emailHolders(tenantId: string, email: string): Promise<StoredUser[]> {
    return this.emails.find(tenantId, email);
  }

  /** Every user of the tenant (the `--dump-users` view). */
  async list(tenantId: string): Promise<UserRecord[]> {
    return (await this.listStored(tenantId)).map(toUserRecord);
  }

  /** Every user with its bookkeeping, read strongly consistently: what a run's completion decides on. */
  async listStored(tenantId: string): Promise<StoredUser[]> {
    const items = await queryByPrefix(this.db, { tableName: this.tableName, tenantId, prefix: userPrefix, consistentRead: true });
    return items as unknown as StoredUser[];
  }

  /** These users with their bookkeeping (missing ones are left out). */
  async getStored(tenantId: string, userIds: string[]): Promise<Map<string, StoredUser>> {
    return this.getUsers(tenantId, userIds);
  }

  /**
   * Links a user to its manager's user, if the user still reports to the same Personio manager. The link is derived,
   * not Personio data, and the content hash leaves it out, so this write neither advances nor disturbs the user's
   * version.
   */
  async setManagerLink(tenantId: string, userId: string, managerPersonioId: number | null, managerUserId: string | null): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(userId) },
        UpdateExpression: 'SET managerUserId = :manager',
        ConditionExpression: managerPersonioId === null ? 'attribute_exists(sk) AND (attribute_not_exists(managerPersonioId) OR managerPersonioId = :null)' : 'managerPersonioId = :mpid',
        ExpressionAttributeValues: { ':manager': managerUserId, ...(managerPersonioId === null ? { ':null': null } : { ':mpid': managerPersonioId }) },
      }),
    );
  }

  /**
   * Deactivates (never deletes) a user a run found gone from Personio, as of that run's fetch. A versioned write, and
   * the rule that protects people who still work there: it applies only if the user is still active, still exactly
   * as the run saw it (content hash), and no import fetched after this run began has written it (syncedAt). It then
   * carries the run's fetch time as its version, so an older message redelivered later cannot reactivate a leaver.
   * False when any of that no longer holds: the user is left alone.
   */
  async deactivate(tenantId: string, user: StoredUser, decision: { asOf: string; runId: string; reason: 'not_in_personio' }): Promise<boolean> {
    const now = this.now().toISOString();
    const next = { ...pickContent(user), active: false };
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(user.userId) },
        UpdateExpression:
          'SET active = :false, deactivatedAt = :now, deactivationReason = :reason, deactivatedInRun = :run, contentHash = :hash, syncedAt = :asOf, changedInRun = :run, updatedAt = :now',
        ConditionExpression: `active = :true AND ${user.contentHash ? 'contentHash = :seen' : 'attribute_not_exists(contentHash)'} AND (attribute_not_exists(syncedAt) OR syncedAt <= :asOf)`,
        ExpressionAttributeValues: {
          ':false': false,
          ':true': true,
          ':now': now,
          ':reason': decision.reason,
          ':hash': contentHash(next),
          ':asOf': decision.asOf,
          ':run': decision.runId,
          ...(user.contentHash ? { ':seen': user.contentHash } : {}),
        },
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
    const content = contentFor(current, employee, managerUserId);
    // Back in Personio after a deactivation: active again unless Personio says inactive. Without a readable status
    // the user stays as it was (the problem is reported) rather than guessing either way.
    const reactivated = !!current?.deactivatedAt && employee.personioStatus !== undefined;
    if (reactivated) content.active = employee.personioStatus !== 'inactive';
    // The hash is of what Personio says, also when the address is not this user's to take (below): otherwise every
    // import would try the same refused change again.
    const hash = contentHash(content);
    if (current && current.contentHash === hash && !reactivated) return { kind: classifyUnwritten(current, source), writes: 0 };
    if (!content.email && !current?.previousEmail) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    let writes = 0;
    let refused: Result | undefined;
    const newKey = content.email?.toLowerCase();
    if (newKey && newKey !== current?.emailKey) {
      const decision = decideEmail(await this.emails.find(tenantId, newKey), { userId, personioId: employee.personioId }, source.final === true);
      if (decision.kind === 'take') {
        for (const holder of decision.from) if (await this.emails.release(tenantId, holder)) writes++;
      } else if (decision.kind === 'defer' && content.active) {
        return { kind: 'deferred', writes: 0 };
      } else if (decision.kind === 'conflict' || decision.kind === 'defer' || decision.kind === 'link') {
        // Not this user's address: it keeps the one it has. A leaver simply does not take an active user's address;
        // an active employee reports the conflict.
        if (decision.kind === 'conflict' && content.active) refused = { kind: 'failed', reason: 'email_taken', otherPersonioId: decision.holder.personioId, writes: 0 };
        content.email = current?.email ?? null;
      }
    }

    const now = this.now().toISOString();
    const values: Record<string, unknown> = {
      ...content,
      ...(reactivated ? { deactivatedAt: null, deactivationReason: null, deactivatedInRun: null } : {}),
      personioId: employee.personioId,
      userId,
      contentHash: hash,
      syncedAt: source.fetchedAt,
      changedInRun: source.runId,
      updatedAt: now,
    };
    const set = setExpression(values);
    // The address is the user's key in the email index: a user without one (it passed to a newer employee) has none.
    const emailKey = content.email ? { ':emailKey': content.email.toLowerCase() } : {};
    const written = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(userId) },
        UpdateExpression: `SET ${set.expression}, createdAt = if_not_exists(createdAt, :now)${content.email ? ', emailKey = :emailKey' : ''}${content.email ? '' : ' REMOVE emailKey'}`,
        // Never let an older message's data replace data fetched later.
        ConditionExpression: 'attribute_not_exists(syncedAt) OR syncedAt <= :fetchedAt',
        ExpressionAttributeNames: set.names,
        ExpressionAttributeValues: { ...set.values, ...emailKey, ':fetchedAt': source.fetchedAt, ':now': now },
      }),
    );
    if (refused) return { ...refused, writes: writes + (written ? 1 : 0) };
    return written ? { kind, writes: writes + 1 } : { kind: 'unchanged', writes };
  }

  private async createOrLink(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    const email = employee.fields.email;
    if (!email) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    const userId = personioUserId(tenantId, employee.personioId);
    const decision = decideEmail(await this.emails.find(tenantId, email), { userId, personioId: employee.personioId }, source.final === true);
    let writes = 0;
    switch (decision.kind) {
      case 'link':
        return this.link(tenantId, decision.userId, employee, managerUserId, source);
      case 'defer':
        return { kind: 'deferred', writes: 0 };
      case 'conflict':
        return { kind: 'failed', reason: 'email_taken', otherPersonioId: decision.holder.personioId, writes: 0 };
      case 'take':
        for (const holder of decision.from) {
          // Lost a race (the holder changed): decide again from what the table holds now.
          if (!(await this.emails.release(tenantId, holder))) return source.retried ? { kind: 'failed', reason: 'conflict', writes: 0 } : this.createOrLink(tenantId, employee, managerUserId, { ...source, retried: true });
          writes++;
        }
        break;
      case 'free':
        break;
    }

    const content = contentFor(undefined, employee, managerUserId);
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
    // The derived id makes this put the uniqueness check: a concurrent delivery of the same
    // employee targets the same item, and only one of them can create it.
    if (await sendConditional(this.db, new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(sk)' }))) {
      return { kind: 'created', writes: writes + 1 };
    }
    return this.retryThroughResolve(tenantId, employee, managerUserId, source);
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
      // The link item exists already: another delivery linked this employee first.
      if (isFirstTransactConditionFailed(error)) return this.retryThroughResolve(tenantId, employee, managerUserId, source);
      // The user was linked to another Personio employee meanwhile (a race on one address): this employee's failure.
      if (isTransactConditionFailedAt(error, 1)) return { kind: 'failed', reason: 'email_taken', writes: 0 };
      throw error;
    }
    const [current] = (await this.getUsers(tenantId, [userId])).values();
    const result = await this.writeUser(tenantId, userId, current, employee, managerUserId, source, 'updated');
    return { ...result, writes: result.writes + 2 };
  }

  private async retryThroughResolve(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    const existing = (await this.resolve(tenantId, [employee.personioId])).get(employee.personioId);
    if (!existing?.user) return { kind: 'failed', reason: 'conflict', writes: 0 };
    return this.update(tenantId, existing.user, existing.userId, employee, managerUserId, source);
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
  /**
   * At the run's completion: every employee of the run has been seen and its leavers are deactivated, so an address
   * still held by an active user is a genuine conflict rather than one the run may yet resolve.
   */
  final?: boolean;
  /** Set on the one retry after an address changed hands under us. */
  retried?: boolean;
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

/** The content to write: the employee merged onto the current content, with the predicted manager link. */
function contentFor(current: StoredUser | undefined, employee: MappedEmployee, managerUserId: string | undefined): ReturnType<typeof mergeContent> {
  const content = mergeContent(current, employee);
  if (managerUserId !== undefined) content.managerUserId = managerUserId;
  return content;
}

type Result =
  | { kind: 'created' | 'updated' | 'unchanged'; writes: number }
  /** The address is held by an active user whom this run may still find gone: decided at the run's completion. */
  | { kind: 'deferred'; writes: number }
  | { kind: 'failed'; reason: UpsertFailure['reason']; otherPersonioId?: number | undefined; writes: number };

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


