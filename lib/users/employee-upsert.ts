import type { MappedEmployee } from '../mapping/map-employee.js';
import { userSk } from '../storage/tables.js';
import { decideEmail, type EmailHolders } from './email-holders.js';
import { contentHash, mergeContent, type StoredUser } from './user.js';
import { personioUserId } from './user-id.js';
import type { UserWrites } from './user-writes.js';

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
  /**
   * A delta run's read: an unchanged employee's user still gets syncedAt moved up to fetchedAt (never back), so a held
   * full run approved afterwards spares whom this read saw in Personio. Full runs leave it unset and write nothing.
   */
  touch?: boolean;
}

/** What the upserts read through the store: users by Personio id (link or derived id) and by user id. */
export interface UserReads {
  resolve(tenantId: string, personioIds: number[]): Promise<Map<number, { userId: string; user: StoredUser | undefined }>>;
  getUsers(tenantId: string, userIds: string[]): Promise<Map<string, StoredUser>>;
}

export type UpsertFailureReason = 'missing_email' | 'email_taken' | 'conflict' | 'not_storable';

/** What one employee's upsert did, with the items it wrote (a two-item transaction counts two). */
export type UpsertResult =
  /** `problem`: a value left out of an employee that was imported (reported, not a failure). */
  | { kind: 'created' | 'updated' | 'unchanged'; writes: number; problem?: { reason: string; attribute: string } }
  /** The address is held by an active user whom this run may still find gone: decided at the run's completion. */
  | { kind: 'deferred'; writes: number }
  | { kind: 'failed'; reason: UpsertFailureReason; otherPersonioId?: number | undefined; writes: number };

/**
 * One employee's upsert: create (under the derived id, or by linking an existing Dado user with the address), update,
 * reactivate, and the address decisions (lib/users/email-holders.ts). Every write is versioned by the fetch time of
 * its data, so older data never overwrites newer.
 */
export class EmployeeUpsert {
  constructor(
    private readonly writes: UserWrites,
    private readonly now: () => Date,
    private readonly reads: UserReads,
    private readonly emails: EmailHolders,
  ) {}

  /** `existing`: the employee's user as resolved before the batch, if it has one (or a link to one). */
  async upsert(
    tenantId: string,
    existing: { userId: string; user: StoredUser | undefined } | undefined,
    employee: MappedEmployee,
    managerUserId: string | undefined,
    source: ImportSource,
  ): Promise<UpsertResult> {
    return existing
      ? this.update(tenantId, existing.user, existing.userId, employee, managerUserId, source)
      : this.createOrLink(tenantId, employee, managerUserId, source);
  }

  private async update(
    tenantId: string,
    current: StoredUser | undefined,
    userId: string,
    employee: MappedEmployee,
    managerUserId: string | undefined,
    source: ImportSource,
  ): Promise<UpsertResult> {
    if (!current) {
      // A link without its user: a half-finished write from an older version; re-create the user.
      return this.writeUser(tenantId, userId, undefined, employee, managerUserId, source, 'created');
    }
    // Newer data is there (a later run wrote, or a delta run read, the employee): nothing to write. A user this run's
    // own earlier delivery created (it died before recording its message) still counts as this run's creation.
    if (current.syncedAt && current.syncedAt > source.fetchedAt) return { kind: classifyUnwritten(current, source), writes: 0 };
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
  ): Promise<UpsertResult> {
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
    if (unchangedContent && !addressToDecide) return this.unwritten(tenantId, userId, current, source);
    if (!content.email && !current) return { kind: 'failed', reason: 'missing_email', writes: 0 };

    let writes = 0;
    let refused: UpsertResult | undefined;
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
        if (unchangedContent && current) {
          const unwritten = await this.unwritten(tenantId, userId, current, source);
          return refused ? { ...refused, writes: unwritten.writes } : unwritten;
        }
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
    const written = await this.writes.update(tenantId, userId, values, content.email, source.fetchedAt, now);
    if (refused) return { ...refused, writes: writes + (written ? 1 : 0) };
    const problem = cleared ? { problem: { reason: 'unreadable_value', attribute: 'email' } } : {};
    return written ? { kind, writes: writes + 1, ...problem } : { kind: 'unchanged', writes, ...problem };
  }

  /**
   * Nothing to write: reported as the run's earlier write of the user, or unchanged. A touching read still moves
   * syncedAt up (one conditional write, counted in `writes` since DynamoDB bills it, but never as an update).
   */
  private async unwritten(tenantId: string, userId: string, current: StoredUser, source: ImportSource): Promise<UpsertResult> {
    const kind = classifyUnwritten(current, source);
    if (!source.touch || (current.syncedAt && current.syncedAt >= source.fetchedAt)) return { kind, writes: 0 };
    return { kind, writes: (await this.writes.touch(tenantId, userId, source.fetchedAt)) ? 1 : 0 };
  }

  private async createOrLink(tenantId: string, employee: MappedEmployee, managerUserId: string | undefined, source: ImportSource): Promise<UpsertResult> {
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
    if (await this.writes.create(item)) return { kind: 'created', writes: writes + 1 };
    // Another delivery of the same employee created it first.
    return this.retryThroughResolve(tenantId, employee, managerUserId, source);
  }

  /** Links an existing Dado user (same email, no Personio link yet) instead of creating a duplicate. */
  private async link(
    tenantId: string,
    userId: string,
    employee: MappedEmployee,
    managerUserId: string | undefined,
    source: ImportSource,
  ): Promise<UpsertResult> {
    const linked = await this.writes.link(tenantId, userId, employee.personioId);
    if (linked === 'linked_before') return this.retryThroughResolve(tenantId, employee, managerUserId, source);
    // Another employee has the user now: this employee's failure, not the message's.
    if (linked === 'user_taken') return { kind: 'failed', reason: 'email_taken', writes: 0 };
    const [current] = (await this.reads.getUsers(tenantId, [userId])).values();
    const result = await this.writeUser(tenantId, userId, current, employee, managerUserId, source, 'updated');
    return { ...result, writes: result.writes + 2 };
  }

  private async retryThroughResolve(
    tenantId: string,
    employee: MappedEmployee,
    managerUserId: string | undefined,
    source: ImportSource,
  ): Promise<UpsertResult> {
    const existing = (await this.reads.resolve(tenantId, [employee.personioId])).get(employee.personioId);
    if (!existing?.user) return { kind: 'failed', reason: 'conflict', writes: 0 };
    return this.update(tenantId, existing.user, existing.userId, employee, managerUserId, source);
  }
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
