import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * DynamoDB requests of this process, counted at the SDK's edge as test/helpers/faulty-dynamodb.ts intercepts them
 * (bench/ does not import test/): an own `send` on `DynamoDBDocumentClient.prototype` and `DynamoDBClient.prototype`
 * sees every call of every DynamoDB client in the process exactly once, document or low-level, the ones the handlers
 * create at module load included (a document client's `send` does not go through its inner client's `send`).
 *
 * `total` and `byOperation` count the calls our code makes (one per `send`: a failed conditional write counts, a
 * contention retry by the stores' wrapper is another call). `attempts` adds the SDK's own retries inside a call
 * (`$metadata.attempts` of the answer or the error): equal to `total` when the SDK retried nothing.
 */
export interface DynamoRequestCounts {
  total: number;
  byOperation: Record<string, number>;
  attempts: number;
}

type Send = (this: unknown, command: unknown, ...rest: unknown[]) => Promise<unknown>;

const ITEM_OPERATIONS = new Set(['Put', 'Get', 'Update', 'Delete', 'BatchGet', 'BatchWrite']);
const ITEMS_OPERATIONS = new Set(['TransactWrite', 'TransactGet']);

/** The API operation a command class stands for: `GetCommand` and `GetItemCommand` are GetItem, `QueryCommand` Query. */
export function dynamoOperation(commandName: string): string {
  const bare = commandName.replace(/Command$/, '');
  if (ITEM_OPERATIONS.has(bare)) return `${bare}Item`;
  if (ITEMS_OPERATIONS.has(bare)) return `${bare}Items`;
  return bare;
}

const counts: DynamoRequestCounts = { total: 0, byOperation: {}, attempts: 0 };
let installed = false;

/** Starts counting in this process (idempotent; counting stays on until the process ends). */
export function countDynamoRequests(): void {
  if (installed) return;
  installed = true;
  const inherited = Object.getPrototypeOf(DynamoDBClient.prototype).send as Send;
  const attemptsOf = (answer: unknown) => {
    const attempts = (answer as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts;
    return typeof attempts === 'number' && attempts >= 1 ? attempts : 1;
  };
  const send: Send = function (this: unknown, command: unknown, ...rest: unknown[]) {
    const operation = dynamoOperation((command as { constructor: { name: string } }).constructor.name);
    counts.total += 1;
    counts.byOperation[operation] = (counts.byOperation[operation] ?? 0) + 1;
    const answer = inherited.call(this, command, ...rest);
    // With a callback (which nothing here passes) smithy's send answers through it and returns nothing.
    if (typeof (answer as Promise<unknown> | undefined)?.then !== 'function') return answer;
    return answer.then(
      (output) => {
        counts.attempts += attemptsOf(output);
        return output;
      },
      (error: unknown) => {
        counts.attempts += attemptsOf(error);
        throw error;
      },
    );
  };
  for (const proto of [DynamoDBDocumentClient.prototype, DynamoDBClient.prototype] as unknown as Record<string, unknown>[]) {
    if (Object.hasOwn(proto, 'send')) throw new Error('a DynamoDB client prototype already has its own send');
    proto['send'] = send;
  }
}

/** The counts so far (a copy). */
export function dynamoRequests(): DynamoRequestCounts {
  return { total: counts.total, byOperation: { ...counts.byOperation }, attempts: counts.attempts };
}

export const noDynamoRequests = (): DynamoRequestCounts => ({ total: 0, byOperation: {}, attempts: 0 });

/** a − b: the requests made between two snapshots. */
export function dynamoRequestsSince(now: DynamoRequestCounts, before: DynamoRequestCounts): DynamoRequestCounts {
  const byOperation: Record<string, number> = {};
  for (const [operation, n] of Object.entries(now.byOperation)) {
    const d = n - (before.byOperation[operation] ?? 0);
    if (d !== 0) byOperation[operation] = d;
  }
  return { total: now.total - before.total, byOperation, attempts: now.attempts - before.attempts };
}

/** The sum of several processes' counts, operations in a stable (alphabetical) order. */
export function sumDynamoRequests(all: readonly DynamoRequestCounts[]): DynamoRequestCounts {
  const sum = noDynamoRequests();
  for (const c of all) {
    sum.total += c.total;
    sum.attempts += c.attempts;
    for (const [operation, n] of Object.entries(c.byOperation)) sum.byOperation[operation] = (sum.byOperation[operation] ?? 0) + n;
  }
  sum.byOperation = Object.fromEntries(Object.entries(sum.byOperation).sort(([a], [b]) => a.localeCompare(b)));
  return sum;
}
