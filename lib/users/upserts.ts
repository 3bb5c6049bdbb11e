import { PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MappedEmployee } from '../mapping/map-employee.js';
import { isFirstTransactConditionFailed, isTransactConditionFailedAt, isTransientStoreError, sendConditional } from '../storage/conditional.js';
import { setExpression } from '../storage/expressions.js';
import { linkSk, userSk } from '../storage/tables.js';
import { forEachLimited } from '../util/concurrency.js';
import { decideEmail, type EmailHolders } from './email-holders.js';
import { contentHash, mergeContent, type StoredUser } from './user.js';
import { personioUserId } from './user-id.js';

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
  /** Values left out of imported employees (an address Personio cleared): reported with the mapping's problems. */
  problems: { personioId: number; reason: string; attribute: string }[];
  /** Employees whose address waits for the run's completion (see `ImportSource.final`). */
  deferred: MappedEmployee[];
  /** Items written (a two-item transaction counts two): what DynamoDB bills as write requests. */
  writeRequests: number;
}

const CONCURRENCY = 16;

/** What the upserts read through the store: users by Personio id (link or derived id) and by user id. */
export interface UserReads {
  resolve(tenantId: string, personioIds: number[]): Promise<Map<number, { userId: string; user: StoredUser | undefined }>>;
  getUsers(tenantId: string, userIds: string[]): Promise<Map<string, StoredUser>>;
}

/**
 * An import's writes of users from Personio's data: create (under the derived id, or by linking an existing Dado user
 * with the address), update, reactivate, and the address decisions (lib/users/email-holders.ts). Every write is
 * versioned by the fetch time of its data, so older data never overwrites newer.
 */
export class UserUpserts {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly now: () => Date,
    private readonly reads: UserReads,
    private readonly emails: EmailHolders,
  ) {}

  async upsertMany(tenantId: string, employees: MappedEmployee[], source: ImportSource): Promise<UpsertOutcome> {
    const outcome: UpsertOutcome = { created: 0, updated: 0, unchanged: 0, failures: [], problems: [], deferred: [], writeRequests: 0 };
    if (employees.length === 0) return outcome;

    const wanted = new Set<number>();
    for (const e of employees) {
      wanted.add(e.personioId);
      if (typeof e.fields.managerPersonioId === 'number') wanted.add(e.fields.managerPersonioId);
    }
    const known = await this.reads.resolve(tenantId, [...wanted]);

    // Employees bringing one address are written one after the other, so the second sees the first's user when it
    // looks the address up (concurrent look-ups could both find it free).
    const lanes = new Map<string, MappedEmployee[]>();
    for (const e of employees) {
      const key = e.fields.email?.toLowerCase() ?? `#${e.personioId}`;
      const lane = lanes.get(key);
      if (lane) lane.push(e);
      else lanes.set(key, [e]);
    }
    const one = async (employee: MappedEmployee): Promise<void> => {
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
        outcome.failures.push({
          personioId: employee.personioId,
          reason: result.reason,
          ...(result.otherPersonioId !== undefined ? { otherPersonioId: result.otherPersonioId } : {}),
        });
      } else if (result.kind === 'deferred') outcome.deferred.push(employee);
      else {
        outcome[result.kind]++;
        if (result.problem) outcome.problems.push({ personioId: employee.personioId, ...result.problem });
      }
    };
    await forEachLimited([...lanes.values()], CONCURRENCY, async (lane) => {
      for (const employee of lane) await one(employee);
    });
    return outcome;
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
    // Personio no longer gives an address (HR cleared it at offboarding): the user keeps the one it has, and the rest
    // (the status above all) still lands. Only a user not created yet needs one.
    const cleared = !!current && !content.email && !!current.email;
    if (cleared) content.email = current?.email ?? null;
    // Back in Personio after a deactivation: active again unless Personio says inactive. Without a readable status
    // the user stays as it was (the problem is reported) rather than guessing either way.
    const reactivated = !!current?.deactivatedAt && employee.personioStatus !== undefined;
    if (reactivated) content.active = employee.personioStatus !== 'inactive';
    // The hash is of what Personio says, also when the address is not this user's to take (below), so a refused
    // address is not rewritten on every import; whether it may be taken is decided again each time instead.
    const hash = contentHash(content);
    const unchangedContent = !!current && current.contentHash === hash && !reactivated;
    const newKey = content.email?.toLowerCase();
    // A leaver whose address passed to a newer employee keeps it only as previousEmail, however often Personio still
    // lists it with that address.
    const formerAddress = !!current && !!newKey && newKey === current.previousEmail?.toLowerCase() && !content.active;
    const addressToDecide = !!newKey && newKey !== current?.emailKey && !formerAddress;
    if (unchangedContent && !addressToDecide) return { kind: classifyUnwritten(current, source), writes: 0 };
    if (!content.email && !current) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    let writes = 0;
    let refused: Result | undefined;
    if (formerAddress) content.email = current?.email ?? null;
    else if (addressToDecide && newKey) {
      const decision = decideEmail(await this.emails.find(tenantId, newKey), { userId, personioId: employee.personioId }, source.final === true, source.runId);
      if (decision.kind === 'take') {
        for (const holder of decision.from) if (await this.emails.release(tenantId, holder)) writes++;
      } else if (decision.kind === 'defer' && content.active) {
        return { kind: 'deferred', writes: 0 };
      } else if (decision.kind === 'conflict' || decision.kind === 'defer' || decision.kind === 'link') {
        // Not this user's address: it keeps the one it has. A leaver simply does not take an active user's address;
        // an active employee reports the conflict (every run, until the holder leaves).
        if (decision.kind === 'conflict' && content.active)
          refused = { kind: 'failed', reason: 'email_taken', otherPersonioId: decision.holder.personioId, writes: 0 };
        content.email = current?.email ?? null;
        // Nothing else changed: report, write nothing.
        if (unchangedContent && current) return refused ?? { kind: classifyUnwritten(current, source), writes: 0 };
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
    const problem = cleared ? { problem: { reason: 'unreadable_value', attribute: 'email' } } : {};
    return written ? { kind, writes: writes + 1, ...problem } : { kind: 'unchanged', writes, ...problem };
  }

  private async createOrLink(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    const email = employee.fields.email;
    if (!email) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    const userId = personioUserId(tenantId, employee.personioId);
    const decision = decideEmail(await this.emails.find(tenantId, email), { userId, personioId: employee.personioId }, source.final === true, source.runId);
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
          if (!(await this.emails.release(tenantId, holder)))
            return source.retried
              ? { kind: 'failed', reason: 'conflict', writes: 0 }
              : this.createOrLink(tenantId, employee, managerUserId, { ...source, retried: true });
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
            {
              Put: { TableName: this.tableName, Item: { tenantId, sk: linkSk(employee.personioId), userId }, ConditionExpression: 'attribute_not_exists(sk)' },
            },
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
    const [current] = (await this.reads.getUsers(tenantId, [userId])).values();
    const result = await this.writeUser(tenantId, userId, current, employee, managerUserId, source, 'updated');
    return { ...result, writes: result.writes + 2 };
  }

  private async retryThroughResolve(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<Result> {
    const existing = (await this.reads.resolve(tenantId, [employee.personioId])).get(employee.personioId);
    if (!existing?.user) return { kind: 'failed', reason: 'conflict', writes: 0 };
    return this.update(tenantId, existing.user, existing.userId, employee, managerUserId, source);
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
  /** `problem`: a value left out of an employee that was imported (reported, not a failure). */
  | { kind: 'created' | 'updated' | 'unchanged'; writes: number; problem?: { reason: string; attribute: string } }
  /** The address is held by an active user whom this run may still find gone: decided at the run's completion. */
  | { kind: 'deferred'; writes: number }
  | { kind: 'failed'; reason: UpsertFailure['reason']; otherPersonioId?: number | undefined; writes: number };
