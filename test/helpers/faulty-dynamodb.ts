import { Readable } from 'node:stream';
import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { mulberry32 } from '../../local/personio-sim/data.js';

/**
 * What real DynamoDB does and DynamoDB Local never does, injected at the SDK's edge of every DynamoDB client in the
 * process, including the ones the handlers create at module load (functions/shared/clients.ts).
 *
 * Where: `send` lives on smithy's `Client.prototype` (@smithy/core/client); `DynamoDBDocumentClient` and
 * `DynamoDBClient` both inherit it, and a document client's `send` never goes through its inner client's `send` (its
 * commands resolve into the inner command's middleware stack). So an own `send` on each of the two prototypes sees
 * every DynamoDB call exactly once, document or low-level, and `restore()` removes it again.
 *
 * How a fault surfaces:
 * - `via: 'direct'` (default): the error is built from the SDK's own exception classes, in the shape the SDK's
 *   deserializer gives for DynamoDB's answer (checked against it in test/lifecycle/faulty-dynamodb.test.ts), and
 *   thrown without a network call; for throttling, as it is once the SDK's own retries are exhausted.
 * - `via: 'sdk'`: DynamoDB's HTTP answer (status, headers, JSON body) is handed to the SDK in place of the network,
 *   so its real deserializer and retry strategy run (throttling is retried with the SDK's real back-off: seconds).
 *
 * Selection: by command (either spelling: `UpdateCommand` or `UpdateItemCommand`, `TransactWriteCommand` or
 * `TransactWriteItemsCommand`, or just `Update`), table, and key (the item's key attributes as native values; a
 * transaction or batch matches when any of its items does), then `skip` / `count` / `probability` over the calls
 * that match, and `when` (e.g. "inside this Lambda invocation", with AsyncLocalStorage).
 */

export type DynamoFault =
  /**
   * TransactWriteItems / TransactGetItems: another transaction holds one of the items. Real DynamoDB cancels the
   * whole transaction with TransactionCanceledException (HTTP 400), CancellationReasons one per item in request order,
   * `{Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item'}` at the conflicted item's index and
   * `{Code: 'None'}` elsewhere. The SDK never retries it; nothing of the transaction is applied.
   */
  | 'transactionConflict'
  /** As above, but the conflicted item's partition was throttled: reason `ThrottlingError` (nothing applied). */
  | 'transactionThrottled'
  /**
   * A plain write (PutItem, UpdateItem, DeleteItem) on an item that a transaction is using right now: real DynamoDB
   * answers TransactionConflictException (HTTP 400, "Transaction is ongoing for the item"); the SDK does not retry
   * it; the write is not applied.
   */
  | 'transactionConflictException'
  /**
   * A hot partition (also on on-demand tables, past ~1,000 WCU / 3,000 RCU per partition):
   * ProvisionedThroughputExceededException (HTTP 400) with ThrottlingReasons. The SDK retries it with back-off;
   * `direct` throws it as the SDK does once its attempts are used up. Nothing applied.
   */
  | 'provisionedThroughputExceeded'
  /** Request rate above the table's or account's limits: ThrottlingException (HTTP 400), as after the SDK's retries. */
  | 'throttling'
  /**
   * BatchGetItem: DynamoDB answers part of the keys in UnprocessedKeys (same shape as the request's entry for the
   * table, `ConsistentRead`/projection included) instead of Responses, whether the items exist or not. The call goes
   * through; then `share` of the requested keys (at least one) is moved from Responses to UnprocessedKeys.
   */
  | 'unprocessedKeys'
  /**
   * BatchWriteItem: part of the requests come back in UnprocessedItems and are NOT written. `share` of the requests
   * (at least one) is held back, the rest really written.
   */
  | 'unprocessedItems'
  /** A call that never answers: the process was killed (Lambda timeout) while it was in flight. */
  | 'hang'
  /** Any other error, thrown as it is. */
  | { error: () => Error };

export interface DynamoFaultRule {
  /** Shown in stats and in the injected error's request id. */
  name?: string;
  /** Command name(s), in either spelling (`Update`, `UpdateCommand`, `UpdateItemCommand`). Default: any command. */
  command?: string | readonly string[];
  table?: string | RegExp;
  /** Key attribute `sk` (the sort key of the users and runs tables) starts with this, e.g. `run#`, `personio#`. */
  skPrefix?: string;
  tenantId?: string;
  /** Any other test on an item's key (native values; for PutItem the whole item). */
  key?: (key: Record<string, unknown>) => boolean;
  /** Let this many matching calls through before faulting. */
  skip?: number;
  /** Fault at most this many matching calls (after `skip`); default: every one. */
  count?: number;
  /** Fault a matching call with this probability (seeded: see `injectDynamoFaults`' `seed`). */
  probability?: number;
  /** Evaluated at call time, in the caller's async context. */
  when?: () => boolean;
  fault: DynamoFault;
  /** Share of keys (unprocessedKeys) or requests (unprocessedItems) held back; default 0.5. */
  share?: number;
  /** How the fault surfaces; default 'direct'. */
  via?: 'direct' | 'sdk';
  /** Called when the rule fires (before the fault surfaces). */
  onFault?: (call: FaultedCall) => void;
}

export interface FaultedCall {
  rule: string;
  operation: string;
  tables: string[];
  fault: string;
  /** Index of the faulted item in a transaction (TransactionConflict/ThrottlingError reason). */
  itemIndex?: number;
}

export interface DynamoFaultStats {
  /** Calls per operation (PutItem, UpdateItem, TransactWriteItems, …), faulted or not. */
  calls: Record<string, number>;
  faults: FaultedCall[];
}

export interface DynamoFaults {
  /** The rules in force (evaluated in order; the first that fires wins); change them at will. */
  rules: DynamoFaultRule[];
  add(rule: DynamoFaultRule): DynamoFaultRule;
  remove(rule: DynamoFaultRule): void;
  /** Drops every rule (the interception stays until restore()). */
  clear(): void;
  readonly stats: DynamoFaultStats;
  restore(): void;
}

type Send = (this: unknown, command: unknown, ...rest: unknown[]) => Promise<unknown>;

interface CommandLike {
  input: Record<string, unknown>;
  middlewareStack: { add(middleware: unknown, options: Record<string, unknown>): void };
  constructor: { name: string };
}

const OPERATIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  Get: 'GetItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactWrite: 'TransactWriteItems',
  TransactGet: 'TransactGetItems',
};

/** `PutCommand`, `PutItemCommand`, `Put` and `PutItem` all name the operation PutItem. */
export function operationName(name: string): string {
  const bare = name.replace(/Command$/, '');
  return OPERATIONS[bare] ?? bare;
}

let installed: DynamoFaults | undefined;

/**
 * Starts intercepting every DynamoDB client's `send` in this process (one injection at a time). `seed` drives the
 * rules' `probability` (default 1).
 */
export function injectDynamoFaults(rules: DynamoFaultRule[] = [], options: { seed?: number } = {}): DynamoFaults {
  if (installed) throw new Error('injectDynamoFaults is already active: restore() the other injection first');
  const random = mulberry32(options.seed ?? 1);
  const matched = new Map<DynamoFaultRule, number>();
  const fired = new Map<DynamoFaultRule, number>();
  const stats: DynamoFaultStats = { calls: {}, faults: [] };
  const prototypes = [DynamoDBDocumentClient.prototype, DynamoDBClient.prototype] as unknown as Record<string, unknown>[];
  const previous = prototypes.map((proto) => (Object.hasOwn(proto, 'send') ? proto['send'] : undefined));
  const inherited = Object.getPrototypeOf(DynamoDBClient.prototype).send as Send;

  function pick(command: CommandLike): DynamoFaultRule | undefined {
    const operation = operationName(command.constructor.name);
    const targets = targetsOf(command.input);
    for (const rule of faults.rules) {
      if (rule.command !== undefined) {
        const wanted = (typeof rule.command === 'string' ? [rule.command] : rule.command).map(operationName);
        if (!wanted.includes(operation)) continue;
      }
      if (!targets.some((t) => targetMatches(rule, t))) continue;
      if (rule.when && !rule.when()) continue;
      const seen = (matched.get(rule) ?? 0) + 1;
      matched.set(rule, seen);
      if (seen <= (rule.skip ?? 0)) continue;
      if (rule.count !== undefined && (fired.get(rule) ?? 0) >= rule.count) continue;
      if (rule.probability !== undefined && random() >= rule.probability) continue;
      fired.set(rule, (fired.get(rule) ?? 0) + 1);
      return rule;
    }
    return undefined;
  }

  const send: Send = function (this: unknown, command: unknown, ...rest: unknown[]) {
    const c = command as CommandLike;
    const operation = operationName(c.constructor.name);
    stats.calls[operation] = (stats.calls[operation] ?? 0) + 1;
    const rule = pick(c);
    if (!rule) return inherited.call(this, command, ...rest);
    return inject(this, c, rule, rest);
  };

  async function inject(client: unknown, command: CommandLike, rule: DynamoFaultRule, rest: unknown[]): Promise<unknown> {
    const operation = operationName(command.constructor.name);
    const targets = targetsOf(command.input);
    const fault = rule.fault;
    const faultName = typeof fault === 'string' ? fault : 'error';
    const conflicted = targets.find((t) => targetMatches(rule, t))?.index;
    const call: FaultedCall = {
      rule: rule.name ?? `rule ${faults.rules.indexOf(rule)}`,
      operation,
      tables: [...new Set(targets.map((t) => t.table))],
      fault: faultName,
      ...((fault === 'transactionConflict' || fault === 'transactionThrottled') && conflicted !== undefined ? { itemIndex: conflicted } : {}),
    };
    stats.faults.push(call);
    rule.onFault?.(call);

    if (typeof fault === 'object') throw fault.error();
    switch (fault) {
      case 'hang':
        return new Promise(() => undefined);
      case 'unprocessedKeys':
        return unprocessedKeys(client, command, rule.share ?? 0.5, rest);
      case 'unprocessedItems':
        return unprocessedItems(client, command, rule.share ?? 0.5, rest);
      default: {
        const answer = dynamoAnswer(fault, command, conflicted ?? 0, call.tables[0] ?? 'table');
        if ((rule.via ?? 'direct') === 'sdk') {
          command.middlewareStack.add(answerInsteadOfNetwork(answer), { step: 'deserialize', priority: 'low', name: 'faultyDynamoAnswer', override: true });
          return inherited.call(client, command, ...rest);
        }
        const attempts = answer.retried ? await maxAttempts(client) : 1;
        throw sdkError(answer, attempts);
      }
    }
  }

  async function unprocessedKeys(client: unknown, command: CommandLike, share: number, rest: unknown[]): Promise<unknown> {
    const output = (await inherited.call(client, command, ...rest)) as {
      Responses?: Record<string, Record<string, unknown>[]>;
      UnprocessedKeys?: Record<string, { Keys: Record<string, unknown>[] }>;
    };
    const requested = command.input['RequestItems'] as Record<string, { Keys: Record<string, unknown>[] } & Record<string, unknown>>;
    const unprocessed: Record<string, Record<string, unknown>> = { ...(output.UnprocessedKeys ?? {}) };
    const responses: Record<string, Record<string, unknown>[]> = { ...(output.Responses ?? {}) };
    for (const [table, entry] of Object.entries(requested)) {
      const held = entry.Keys.slice(0, Math.max(1, Math.floor(entry.Keys.length * share)));
      const isHeld = (item: Record<string, unknown>) => held.some((key) => Object.keys(key).every((k) => JSON.stringify(item[k]) === JSON.stringify(key[k])));
      responses[table] = (responses[table] ?? []).filter((item) => !isHeld(item));
      const already = (unprocessed[table]?.['Keys'] as Record<string, unknown>[] | undefined) ?? [];
      unprocessed[table] = { ...entry, Keys: [...already, ...held] };
    }
    return { ...output, Responses: responses, UnprocessedKeys: unprocessed };
  }

  async function unprocessedItems(client: unknown, command: CommandLike, share: number, rest: unknown[]): Promise<unknown> {
    const requested = command.input['RequestItems'] as Record<string, Record<string, unknown>[]>;
    const sent: Record<string, Record<string, unknown>[]> = {};
    const held: Record<string, Record<string, unknown>[]> = {};
    for (const [table, requests] of Object.entries(requested)) {
      const n = Math.max(1, Math.floor(requests.length * share));
      held[table] = requests.slice(0, n);
      if (requests.length > n) sent[table] = requests.slice(n);
    }
    let output: Record<string, unknown> = { $metadata: { httpStatusCode: 200, attempts: 1, totalRetryDelay: 0 } };
    if (Object.keys(sent).length > 0) {
      const Ctor = command.constructor as unknown as new (input: Record<string, unknown>) => CommandLike;
      output = (await inherited.call(client, new Ctor({ ...command.input, RequestItems: sent }), ...rest)) as Record<string, unknown>;
    }
    const previousUnprocessed = (output['UnprocessedItems'] as Record<string, Record<string, unknown>[]> | undefined) ?? {};
    const merged: Record<string, Record<string, unknown>[]> = { ...previousUnprocessed };
    for (const [table, requests] of Object.entries(held)) merged[table] = [...requests, ...(merged[table] ?? [])];
    return { ...output, UnprocessedItems: merged };
  }

  const faults: DynamoFaults = {
    rules: [...rules],
    add(rule) {
      faults.rules.push(rule);
      return rule;
    },
    remove(rule) {
      const i = faults.rules.indexOf(rule);
      if (i >= 0) faults.rules.splice(i, 1);
    },
    clear() {
      faults.rules.length = 0;
    },
    stats,
    restore() {
      prototypes.forEach((proto, i) => {
        if (previous[i] === undefined) delete proto['send'];
        else proto['send'] = previous[i];
      });
      if (installed === faults) installed = undefined;
    },
  };
  for (const proto of prototypes) proto['send'] = send;
  installed = faults;
  return faults;
}

// ---- what a command touches ------------------------------------------------------------------------------

interface Target {
  table: string;
  key: Record<string, unknown>;
  /** Position in a transaction (TransactItems index). */
  index: number;
}

/** Values are native (document client) or AttributeValue maps (low-level client); both come out native. */
function native(value: unknown): Record<string, unknown> {
  if (!value || typeof value !== 'object') return {};
  const record = value as Record<string, unknown>;
  const low = Object.values(record).every(
    (v) => v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && /^(S|N|B|SS|NS|BS|M|L|NULL|BOOL)$/.test(Object.keys(v)[0] ?? ''),
  );
  if (low && Object.keys(record).length > 0) {
    try {
      return unmarshall(record as Parameters<typeof unmarshall>[0]);
    } catch {
      return record;
    }
  }
  return record;
}

function targetsOf(input: Record<string, unknown>): Target[] {
  const table = typeof input['TableName'] === 'string' ? input['TableName'] : '';
  if (input['Key'] !== undefined) return [{ table, key: native(input['Key']), index: 0 }];
  if (input['Item'] !== undefined) return [{ table, key: native(input['Item']), index: 0 }];
  const items = input['TransactItems'] as Record<string, Record<string, unknown>>[] | undefined;
  if (items) {
    return items.map((item, index) => {
      const action = Object.values(item)[0] ?? {};
      return { table: String(action['TableName'] ?? ''), key: native(action['Key'] ?? action['Item']), index };
    });
  }
  const requestItems = input['RequestItems'] as Record<string, unknown> | undefined;
  if (requestItems) {
    const out: Target[] = [];
    for (const [t, entry] of Object.entries(requestItems)) {
      if (Array.isArray(entry)) {
        // BatchWriteItem: [{PutRequest: {Item}} | {DeleteRequest: {Key}}]
        for (const request of entry as Record<string, Record<string, unknown>>[]) {
          const r = request['PutRequest'] ?? request['DeleteRequest'] ?? {};
          out.push({ table: t, key: native(r['Item'] ?? r['Key']), index: out.length });
        }
      } else {
        for (const key of ((entry as { Keys?: unknown[] }).Keys ?? []) as unknown[]) out.push({ table: t, key: native(key), index: out.length });
      }
    }
    return out;
  }
  // Query, Scan and the like: the table only.
  return [{ table, key: {}, index: 0 }];
}

function targetMatches(rule: DynamoFaultRule, target: Target): boolean {
  if (rule.table !== undefined && !(typeof rule.table === 'string' ? target.table === rule.table : rule.table.test(target.table))) return false;
  const keyed = rule.skPrefix !== undefined || rule.tenantId !== undefined || rule.key !== undefined;
  if (!keyed) return true;
  if (rule.skPrefix !== undefined && !(typeof target.key['sk'] === 'string' && target.key['sk'].startsWith(rule.skPrefix))) return false;
  if (rule.tenantId !== undefined && target.key['tenantId'] !== rule.tenantId) return false;
  if (rule.key && !rule.key(target.key)) return false;
  return true;
}

// ---- DynamoDB's answers ----------------------------------------------------------------------------------

interface DynamoAnswer {
  type: string;
  body: Record<string, unknown>;
  /** The SDK retries this one (throttling) before it surfaces. */
  retried: boolean;
  requestId: string;
}

let requestCounter = 0;

/** The HTTP 400 body real DynamoDB sends (JSON 1.0 protocol, `__type` with the service's namespace). */
function dynamoAnswer(
  fault: Exclude<DynamoFault, object | 'hang' | 'unprocessedKeys' | 'unprocessedItems'>,
  command: CommandLike,
  itemIndex: number,
  table: string,
): DynamoAnswer {
  const requestId = `FAULTY${String(++requestCounter).padStart(10, '0')}INJECTED${'0'.repeat(28)}`.slice(0, 52);
  const ns = 'com.amazonaws.dynamodb.v20120810#';
  const arn = `arn:aws:dynamodb:eu-central-1:000000000000:table/${table}`;
  switch (fault) {
    case 'transactionConflict':
    case 'transactionThrottled': {
      const items = (command.input['TransactItems'] as unknown[] | undefined) ?? [{}];
      const reasons: CancellationReason[] = items.map((_, i) =>
        i === itemIndex
          ? fault === 'transactionConflict'
            ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
            : {
                Code: 'ThrottlingError',
                Message:
                  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.',
              }
          : { Code: 'None' },
      );
      return {
        type: 'TransactionCanceledException',
        body: {
          __type: `${ns}TransactionCanceledException`,
          Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
          CancellationReasons: reasons,
        },
        retried: false,
        requestId,
      };
    }
    case 'transactionConflictException':
      return {
        type: 'TransactionConflictException',
        body: { __type: `${ns}TransactionConflictException`, message: 'Transaction is ongoing for the item' },
        retried: false,
        requestId,
      };
    case 'provisionedThroughputExceeded':
      return {
        type: 'ProvisionedThroughputExceededException',
        body: {
          __type: `${ns}ProvisionedThroughputExceededException`,
          message:
            'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
          ThrottlingReasons: [{ reason: 'TableWriteKeyRangeThroughputExceeded', resource: arn }],
        },
        retried: true,
        requestId,
      };
    case 'throttling':
      return {
        type: 'ThrottlingException',
        body: {
          __type: `${ns}ThrottlingException`,
          message: 'Rate of requests exceeds the allowed throughput.',
          throttlingReasons: [{ reason: 'TableWriteKeyRangeThroughputExceeded', resource: arn }],
        },
        retried: true,
        requestId,
      };
  }
}

/** The exception the SDK's deserializer makes of `answer`, built directly. */
function sdkError(answer: DynamoAnswer, attempts: number): Error {
  const body = answer.body;
  const message = String(body['Message'] ?? body['message'] ?? '');
  // What the SDK's retry strategy would have waited, roughly, before giving up: never 0 once it retried.
  const $metadata = { httpStatusCode: 400, requestId: answer.requestId, attempts, totalRetryDelay: attempts > 1 ? 150 * (attempts - 1) : 0 };
  switch (answer.type) {
    case 'TransactionCanceledException':
      return new TransactionCanceledException({ message, $metadata, CancellationReasons: body['CancellationReasons'] as CancellationReason[] });
    case 'TransactionConflictException':
      return new TransactionConflictException({ message, $metadata });
    case 'ProvisionedThroughputExceededException':
      return new ProvisionedThroughputExceededException({ message, $metadata, ThrottlingReasons: body['ThrottlingReasons'] as never });
    default:
      return new ThrottlingException({ message, $metadata, throttlingReasons: body['throttlingReasons'] as never });
  }
}

/** A deserialize-step middleware that answers `answer` instead of calling DynamoDB (every attempt). */
function answerInsteadOfNetwork(answer: DynamoAnswer) {
  return () => async () => ({
    response: {
      statusCode: 400,
      reason: 'Bad Request',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': answer.requestId },
      body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
    },
  });
}

async function maxAttempts(client: unknown): Promise<number> {
  const configured = (client as { config?: { maxAttempts?: number | (() => Promise<number> | number) } }).config?.maxAttempts;
  try {
    const value = typeof configured === 'function' ? await configured() : configured;
    return typeof value === 'number' && value > 0 ? value : 3;
  } catch {
    return 3;
  }
}
