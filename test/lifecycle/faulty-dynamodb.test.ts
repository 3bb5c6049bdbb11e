import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CreateTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/aws/dynamodb-local.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/identity.js';
import { injectDynamoFaults, type DynamoFaults } from '../helpers/faulty-dynamodb.js';

/**
 * The fault helper against DynamoDB Local: each fault surfaces as the SDK surfaces DynamoDB's real answer (same class,
 * name, message, reasons and status as the SDK's deserializer makes of the HTTP answer, `via: 'sdk'`), nothing a
 * faulted write carried is applied, and clients created before the injection (as the handlers' are) are reached.
 */

let dynamo: DynamoDbLocal;
let client: DynamoDBClient;
let db: DynamoDBDocumentClient;
let faults: DynamoFaults | undefined;
const table = 'faulty-test';

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  // Created before any injection, like the handlers' clients at module load.
  client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  db = DynamoDBDocumentClient.from(client);
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'tenantId', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'tenantId', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
});

afterAll(async () => {
  await dynamo?.stop();
});

afterEach(() => {
  faults?.restore();
  faults = undefined;
});

const get = async (sk: string) => (await db.send(new GetCommand({ TableName: table, Key: { tenantId: 't', sk }, ConsistentRead: true }))).Item;

const runAndUserUpdate = (n: number) =>
  new TransactWriteCommand({
    TransactItems: [
      { Put: { TableName: table, Item: { tenantId: 't', sk: `msg#r1#${n}` }, ConditionExpression: 'attribute_not_exists(sk)' } },
      { Update: { TableName: table, Key: { tenantId: 't', sk: 'run#r1' }, UpdateExpression: 'ADD msgs :one', ExpressionAttributeValues: { ':one': 1 } } },
    ],
  });

/** A failure as these tests read it: one of DynamoDB's exceptions, with the fields the faults' exception classes add. */
type DynamoFailure = DynamoDBServiceException &
  Pick<TransactionCanceledException, 'CancellationReasons'> &
  Pick<ProvisionedThroughputExceededException, 'ThrottlingReasons'> &
  Pick<ThrottlingException, 'throttlingReasons'>;

async function failure(promise: Promise<unknown>): Promise<DynamoFailure> {
  try {
    await promise;
  } catch (error) {
    // Every fault here is one of DynamoDB's exceptions; anything else fails the test as it was thrown.
    if (error instanceof DynamoDBServiceException) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** What a test compares between the directly built error and the one the SDK deserialized. */
function shape(error: DynamoFailure) {
  return {
    class: error.constructor.name,
    name: error.name,
    message: error.message,
    fault: error.$fault,
    status: error.$metadata?.httpStatusCode,
    reasons: error.CancellationReasons,
    throttlingReasons: error.ThrottlingReasons ?? error.throttlingReasons,
  };
}

describe('faulty DynamoDB', () => {
  it('cancels a transaction with TransactionConflict at the conflicted item, as the SDK deserializes it, applying nothing', async () => {
    faults = injectDynamoFaults([{ command: 'TransactWriteCommand', skPrefix: 'run#', count: 2, fault: 'transactionConflict' }]);
    const direct = await failure(db.send(runAndUserUpdate(1)));
    faults.rules[0] = { command: 'TransactWriteItems', skPrefix: 'run#', count: 1, fault: 'transactionConflict', via: 'sdk' };
    const deserialized = await failure(db.send(runAndUserUpdate(1)));

    expect(direct).toBeInstanceOf(TransactionCanceledException);
    expect(shape(direct)).toEqual(shape(deserialized));
    expect(direct.CancellationReasons).toEqual([{ Code: 'None' }, { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }]);
    expect(direct.message).toBe('Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]');
    // The SDK does not retry a cancelled transaction.
    expect(deserialized.$metadata.attempts).toBe(1);
    expect(await get('msg#r1#1')).toBeUndefined();
    expect(await get('run#r1')).toBeUndefined();
    expect(faults.stats.faults.map((f) => [f.operation, f.itemIndex])).toEqual([
      ['TransactWriteItems', 1],
      ['TransactWriteItems', 1],
    ]);

    // The rule is used up: the next transaction goes through.
    faults.clear();
    await db.send(runAndUserUpdate(1));
    expect(await get('run#r1')).toMatchObject({ msgs: 1 });
  });

  it('refuses a plain write on an item in a transaction with TransactionConflictException, as the SDK deserializes it', async () => {
    const write = () =>
      db.send(
        new UpdateCommand({ TableName: table, Key: { tenantId: 't', sk: 'run#r2' }, UpdateExpression: 'SET s = :s', ExpressionAttributeValues: { ':s': 'x' } }),
      );
    faults = injectDynamoFaults([{ command: 'UpdateCommand', table, skPrefix: 'run#', count: 1, fault: 'transactionConflictException' }]);
    const direct = await failure(write());
    faults.rules[0] = { command: 'Update', skPrefix: 'run#', count: 1, fault: 'transactionConflictException', via: 'sdk' };
    const deserialized = await failure(write());
    expect(direct).toBeInstanceOf(TransactionConflictException);
    expect(shape(direct)).toEqual(shape(deserialized));
    expect(deserialized.$metadata.attempts).toBe(1);
    expect(await get('run#r2')).toBeUndefined();
  });

  it.each([
    ['provisionedThroughputExceeded', ProvisionedThroughputExceededException],
    ['throttling', ThrottlingException],
  ] as const)(
    'throttles with %s as the SDK surfaces it once its retries are used up',
    async (fault, errorClass) => {
      const put = () => db.send(new PutCommand({ TableName: table, Item: { tenantId: 't', sk: `personio#${fault}` } }));
      faults = injectDynamoFaults([{ command: 'PutCommand', skPrefix: 'personio#', count: 1, fault }]);
      const direct = await failure(put());
      faults.rules[0] = { command: 'PutItem', skPrefix: 'personio#', count: 1, fault, via: 'sdk' };
      const deserialized = await failure(put());
      expect(direct).toBeInstanceOf(errorClass);
      expect(shape(direct)).toEqual(shape(deserialized));
      // The real SDK retried it (with its own back-off) before giving up; the direct error says the same.
      expect(deserialized.$metadata.attempts).toBeGreaterThan(1);
      expect(direct.$metadata.attempts).toBe(deserialized.$metadata.attempts);
      expect(await get(`personio#${fault}`)).toBeUndefined();
    },
    30_000,
  );

  it("reaches low-level commands too, and selects by key, skip, count and the caller's context", async () => {
    const scope = new AsyncLocalStorage<string>();
    faults = injectDynamoFaults([
      { command: 'PutItem', tenantId: 't', skPrefix: 'user#', skip: 1, count: 1, when: () => scope.getStore() === 'worker-1', fault: 'throttling' },
    ]);
    const put = (sk: string) => client.send(new PutItemCommand({ TableName: table, Item: { tenantId: { S: 't' }, sk: { S: sk } } }));
    await scope.run('worker-1', () => put('user#a')); // skipped
    await scope.run('worker-2', () => put('user#b')); // another invocation: not selected
    await put('run#x'); // another key
    const error = await failure(scope.run('worker-1', () => put('user#c')));
    await scope.run('worker-1', () => put('user#d')); // count used up
    expect(error).toBeInstanceOf(ThrottlingException);
    expect(await get('user#a')).toBeDefined();
    expect(await get('user#c')).toBeUndefined();
    expect(await get('user#d')).toBeDefined();
    expect(faults.stats.calls['PutItem']).toBe(5);
  });

  it('answers part of a BatchGetItem in UnprocessedKeys, whether the items exist or not', async () => {
    await db.send(new PutCommand({ TableName: table, Item: { tenantId: 't', sk: 'link#1', v: 1 } }));
    await db.send(new PutCommand({ TableName: table, Item: { tenantId: 't', sk: 'link#2', v: 2 } }));
    faults = injectDynamoFaults([{ command: 'BatchGetCommand', count: 1, fault: 'unprocessedKeys', share: 0.5 }]);
    const keys = [1, 2, 3, 4].map((n) => ({ tenantId: 't', sk: `link#${n}` }));
    const first = await db.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }));
    expect(first.UnprocessedKeys?.[table]).toEqual({ Keys: keys.slice(0, 2), ConsistentRead: true });
    expect(first.Responses?.[table]).toEqual([]);
    const second = await db.send(new BatchGetCommand({ RequestItems: first.UnprocessedKeys ?? {} }));
    expect(second.UnprocessedKeys).toEqual({});
    expect(second.Responses?.[table]?.map((i) => i['v']).sort()).toEqual([1, 2]);
  });

  it('holds back part of a BatchWriteItem in UnprocessedItems without writing it', async () => {
    faults = injectDynamoFaults([{ command: 'BatchWrite', count: 1, fault: 'unprocessedItems', share: 0.5 }]);
    const puts = [1, 2, 3, 4].map((n) => ({ PutRequest: { Item: { tenantId: 't', sk: `batch#${n}` } } }));
    const result = await db.send(new BatchWriteCommand({ RequestItems: { [table]: puts } }));
    expect(result.UnprocessedItems?.[table]).toEqual(puts.slice(0, 2));
    expect(await get('batch#1')).toBeUndefined();
    expect(await get('batch#3')).toBeDefined();
  });

  it('hangs a call forever (a killed process) and reports each fault to onFault', async () => {
    const seen: string[] = [];
    faults = injectDynamoFaults([{ command: 'Get', count: 1, fault: 'hang', onFault: (c) => seen.push(`${c.operation}:${c.fault}`) }]);
    const outcome = await Promise.race([get('anything').then(() => 'answered'), new Promise((r) => setTimeout(() => r('still waiting'), 200))]);
    expect(outcome).toBe('still waiting');
    expect(seen).toEqual(['GetItem:hang']);
  });

  it('fires with a seeded probability, and restore() puts the SDK back', async () => {
    const outcomes = async (seed: number) => {
      const f = injectDynamoFaults([{ command: 'Get', probability: 0.5, fault: 'throttling' }], { seed });
      const result: boolean[] = [];
      for (let i = 0; i < 12; i++)
        result.push(
          await get('x').then(
            () => true,
            () => false,
          ),
        );
      f.restore();
      return result;
    };
    const a = await outcomes(7);
    expect(await outcomes(7)).toEqual(a);
    expect(a).toContain(true);
    expect(a).toContain(false);
    expect(Object.hasOwn(DynamoDBDocumentClient.prototype, 'send')).toBe(false);
    expect(Object.hasOwn(DynamoDBClient.prototype, 'send')).toBe(false);
  });
});
