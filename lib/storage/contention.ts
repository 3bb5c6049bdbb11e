import { sleep as defaultSleep } from '../util/concurrency.js';

/**
 * Real DynamoDB refuses writes that contend for one item: concurrent transactions on an item cancel each other
 * (TransactionCanceledException, reason TransactionConflict), a plain write to an item a transaction is using fails
 * with TransactionConflictException, and a hot partition or an account limit throttles. The SDK retries throttling
 * only a few times and transaction conflicts never. DynamoDB Local produces none of these, so the tests inject them
 * (test/helpers/faulty-dynamodb.ts).
 *
 * Every one of these means the write was not applied, so repeating the same command is safe whatever it does
 * (conditional or not, ADD included).
 */
const contentionNames = new Set([
  'TransactionConflictException',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

export function isContention(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (contentionNames.has(error.name)) return true;
  if (error.name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    // A failed condition is an answer, not contention: the caller decides what it means.
    if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) return false;
    return reasons.some((r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError' || r.Code === 'ProvisionedThroughputExceeded');
  }
  return false;
}

export interface ContentionRetryOptions {
  /** How long one call may keep retrying: well inside the shortest function timeout that uses it. */
  budgetMs?: number;
  baseMs?: number;
  capMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * A `send` that retries contention with full-jitter exponential back-off (AWS's recommendation: spreads ten workers
 * that collided apart instead of making them collide again in step), within a time budget; anything else, and
 * contention past the budget, is thrown as it came.
 */
// biome-ignore lint/suspicious/noExplicitAny: the SDK's `send` is overloaded per command; the wrapper passes any of them through unchanged, which `unknown` cannot express.
export function withContentionRetry<T extends { send: (command: any) => Promise<any> }>(db: T, options: ContentionRetryOptions = {}): Pick<T, 'send'> {
  const budgetMs = options.budgetMs ?? 20_000;
  const baseMs = options.baseMs ?? 25;
  const capMs = options.capMs ?? 1_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  return {
    async send(command: unknown) {
      const started = now();
      for (let attempt = 0; ; attempt++) {
        try {
          return await db.send(command);
        } catch (error) {
          if (!isContention(error)) throw error;
          const wait = Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
          if (now() + wait - started > budgetMs) throw error;
          await sleep(wait);
        }
      }
    },
  } as Pick<T, 'send'>;
}
