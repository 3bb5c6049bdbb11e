import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed, sendConditional } from '../storage/conditional.js';
import { personioBudgetSk, runKeys } from '../storage/tables.js';
import { sleep as defaultSleep } from '../util/concurrency.js';
import { CodedError } from '../util/errors.js';
import { personioEmployeeWindows, RateLimiter, type Window } from './rate-limiter.js';

export class BudgetError extends CodedError<'budget_busy'> {
  override readonly name = 'BudgetError';
}

export interface PersonioBudgetOptions {
  /** Personio's per-credential windows on the employee endpoints; tests scale them down. */
  windows?: Window[];
  /** How long a lease lasts without renewal: a holder that crashed blocks the budget at most this long (and a window). */
  leaseMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface AcquireOptions {
  /** Who holds it: the run's id. */
  holder: string;
  /** Epoch ms after which waiting for the lease gives up (`budget_busy`). */
  waitUntil: number;
  /** The holder's own deadline (epoch ms): the lease never outlives it by more than a margin. */
  deadline: number;
  /**
   * A full fetch: while it waits, no delta run takes a lease that comes free (delta runs hold it for seconds and retry
   * later through SQS; a full fetch that kept losing to a stream of them would fail).
   */
  priority?: boolean;
}

const DEFAULT_LEASE_MS = 30_000;
/** Past the holder's deadline: Lambda has ended it by then. */
const DEADLINE_MARGIN_MS = 5_000;
/** How long a waiting full fetch's claim to go next lasts unless renewed by its next poll. */
const QUEUE_CLAIM_MS = 10_000;
const POLL_BASE_MS = 100;
const POLL_CAP_MS = 2_000;
/** The item is kept a day past its last use: long after any window it remembers. */
const ITEM_TTL_S = 24 * 60 * 60;

/**
 * One tenant's Personio rate budget, shared by its full fetch and its delta runs, which run in different Lambda
 * containers: whoever calls Personio's employee endpoints holds a lease on one item of the runs table (sk
 * `budget#personio`), taken with a conditional write and renewed while it is held. Releasing it stores the start times
 * of the holder's requests of the last minute; the next holder seeds its limiter with them before its first request,
 * so holders back to back never pass Personio's windows together. A lease whose holder died (expired, never released)
 * is taken over as if that holder had used the whole minute window up to the lease's expiry: the new holder waits it
 * out rather than guess.
 */
export class PersonioBudget {
  private readonly windows: Window[];
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    options: PersonioBudgetOptions = {},
  ) {
    this.windows = options.windows ?? personioEmployeeWindows;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** Waits (jittered back-off) until the tenant's lease is free, then takes it; `budget_busy` once `waitUntil` passes. */
  async acquire(tenantId: string, options: AcquireOptions): Promise<BudgetLease> {
    const started = this.now();
    for (let attempt = 0; ; attempt++) {
      const old = await this.tryTake(tenantId, options);
      if (old) {
        const limiter = new RateLimiter({ windows: this.windows, now: this.now, sleep: this.sleep });
        limiter.seed(this.history(old, options.holder));
        return new BudgetLease(this, tenantId, options, limiter, this.now() - started);
      }
      const delay = Math.min(POLL_CAP_MS, POLL_BASE_MS * 1.5 ** attempt) * (0.5 + this.random() * 0.5);
      if (this.now() + delay > options.waitUntil)
        throw new BudgetError('budget_busy', `Another import of tenant ${tenantId} kept Personio's rate budget until this one ran out of time to wait.`);
      if (options.priority) await this.queue(tenantId, options.holder, Math.min(this.now() + QUEUE_CLAIM_MS, options.waitUntil));
      await this.sleep(delay);
    }
  }

  /** The item as it was before this holder took it, or undefined when someone else holds it. */
  private async tryTake(tenantId: string, options: AcquireOptions): Promise<Record<string, unknown> | undefined> {
    const now = this.now();
    const free = '(attribute_not_exists(holder) OR leaseUntil < :now OR holder = :me)';
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { tenantId, sk: personioBudgetSk },
          UpdateExpression: `SET holder = :me, leaseUntil = :lease, ${runKeys.ttl} = :ttl${options.priority ? ' REMOVE queuedBy, queuedUntil' : ''}`,
          // A delta run leaves a lease that came free to a full fetch that is waiting for it (and not to itself).
          ConditionExpression: options.priority ? free : `${free} AND (attribute_not_exists(queuedUntil) OR queuedUntil < :now OR queuedBy = :me)`,
          ExpressionAttributeValues: { ':me': options.holder, ':now': now, ':lease': this.leaseEnd(now, options.deadline), ':ttl': ttlAfter(now) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return result.Attributes ?? {};
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** What the previous holders left in the windows; the worst case when the last one never released (it crashed). */
  private history(old: Record<string, unknown>, me: string): number[] {
    const starts = Array.isArray(old['starts']) ? (old['starts'] as unknown[]).filter((s): s is number => typeof s === 'number') : [];
    const holder = old['holder'];
    const leaseUntil = old['leaseUntil'];
    if (typeof holder !== 'string' || holder === me || typeof leaseUntil !== 'number') return starts;
    const full = Math.max(0, ...this.windows.map((w) => w.limit));
    return [...starts, ...Array.from({ length: full }, () => leaseUntil)];
  }

  private async queue(tenantId: string, holder: string, until: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: personioBudgetSk },
        UpdateExpression: `SET queuedBy = :me, queuedUntil = :until, ${runKeys.ttl} = :ttl`,
        ExpressionAttributeValues: { ':me': holder, ':until': until, ':ttl': ttlAfter(this.now()) },
      }),
    );
  }

  leaseEnd(now: number, deadline: number): number {
    return Math.min(now + this.leaseMs, deadline + DEADLINE_MARGIN_MS);
  }

  /** How often a holder renews: three chances before its lease runs out. */
  get renewEveryMs(): number {
    return Math.max(1, Math.floor(this.leaseMs / 3));
  }

  /** Extends the lease if `holder` still has it. */
  async renew(tenantId: string, holder: string, deadline: number): Promise<boolean> {
    const now = this.now();
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: personioBudgetSk },
        UpdateExpression: 'SET leaseUntil = :lease',
        ConditionExpression: 'holder = :me',
        ExpressionAttributeValues: { ':me': holder, ':lease': this.leaseEnd(now, deadline) },
      }),
    );
  }

  /** Frees the lease if `holder` still has it, leaving its recent request starts to the next holder. */
  async release(tenantId: string, holder: string, starts: number[]): Promise<boolean> {
    const now = this.now();
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: personioBudgetSk },
        UpdateExpression: `SET starts = :starts, releasedAt = :now, ${runKeys.ttl} = :ttl REMOVE holder, leaseUntil`,
        ConditionExpression: 'holder = :me',
        ExpressionAttributeValues: { ':me': holder, ':starts': starts, ':now': now, ':ttl': ttlAfter(now) },
      }),
    );
  }
}

/**
 * A held lease: its limiter paces every request the holder makes (pass it to the PersonioClient), and it is renewed in
 * the background until released. Release it in a `finally`.
 */
export class BudgetLease {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lostLease = false;
  private released = false;
  private renewing = false;

  constructor(
    private readonly budget: PersonioBudget,
    private readonly tenantId: string,
    private readonly options: AcquireOptions,
    readonly limiter: RateLimiter,
    /** How long the holder waited for it. */
    readonly waitedMs: number,
  ) {
    this.timer = setInterval(() => void this.renew(), budget.renewEveryMs);
    this.timer.unref?.();
  }

  /**
   * Whether a renewal found the lease taken over (this holder stalled past its lease): its requests may then overlap
   * another holder's; Personio's 429s are retried by the client, and nothing else depends on the lease.
   */
  get lost(): boolean {
    return this.lostLease;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.lostLease) return;
    try {
      await this.budget.release(this.tenantId, this.options.holder, this.limiter.recentStarts());
    } catch {
      // Never the caller's failure: the lease then runs out on its own (within leaseMs) and is taken over as a crash.
    }
  }

  private async renew(): Promise<void> {
    // One renewal at a time: a call that hangs must not pile up others behind it.
    if (this.released || this.lostLease || this.renewing) return;
    this.renewing = true;
    try {
      if (!(await this.budget.renew(this.tenantId, this.options.holder, this.options.deadline))) {
        this.lostLease = true;
        clearInterval(this.timer);
      }
    } catch {
      // A failed renewal is tried again at the next tick; the lease still has two thirds of its time.
    } finally {
      this.renewing = false;
    }
  }
}

function ttlAfter(nowMs: number): number {
  return Math.floor(nowMs / 1000) + ITEM_TTL_S;
}
