import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, createServer, type Server } from 'node:net';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findFreePort, isPortFree } from '../../local/aws/ports.js';
import { LocalStackError, startLocalStack, type LocalStack, type LocalStackNames } from '../../local/aws/stack.js';
import { userKeys } from '../../lib/storage/tables.js';
import { rejectionOf } from '../helpers/rejection.js';

const names: LocalStackNames = {
  usersTable: 'test-users',
  connectionsTable: 'test-connections',
  runsTable: 'test-runs',
  auditTable: 'test-audit',
  importQueue: 'test-import',
  importDlq: 'test-import-dlq',
  changesQueue: 'test-changes',
  changesDlq: 'test-changes-dlq',
};
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

let stack: LocalStack;
let urls: { importQueueUrl: string; importDlqUrl: string };
let ddb: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let sqs: SQSClient;

/** Java processes whose parent is this process (Linux /proc): the way to see a JVM we did not get a handle to. */
function ourJavaChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Format: pid (comm) state ppid …; comm may contain spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && comm === 'java') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function connectionError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

async function occupy(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

beforeAll(async () => {
  stack = await startLocalStack();
  urls = await stack.provision(names);
  const config = { region: stack.env['AWS_REGION'] as string, credentials };
  ddb = new DynamoDBClient({ ...config, endpoint: stack.endpoints.dynamodb });
  doc = DynamoDBDocumentClient.from(ddb);
  sqs = new SQSClient({ ...config, endpoint: stack.endpoints.sqs });
});

afterAll(async () => {
  ddb?.destroy();
  sqs?.destroy();
  await stack?.stop();
});

describe('local stack', () => {
  it('hands out the env the product reads, and that env alone reaches the services', async () => {
    // Prepare
    vi.stubEnv('AWS_PROFILE', undefined);
    for (const [key, value] of Object.entries(stack.env)) vi.stubEnv(key, value);
    // Clients without an endpoint in code, exactly as the product builds them.
    const envDdb = new DynamoDBClient({});
    const envSm = new SecretsManagerClient({});

    // Act
    const tables = await envDdb.send(new ListTablesCommand({}));
    await envSm.send(new CreateSecretCommand({ Name: 'env-check', SecretString: 'x' }));
    const secret = await envSm.send(new GetSecretValueCommand({ SecretId: 'env-check' }));
    envDdb.destroy();
    envSm.destroy();
    vi.unstubAllEnvs();

    // Assess
    expect(stack.env).toMatchObject({
      AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: stack.endpoints.sqs,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: stack.endpoints.secretsManager,
      AWS_REGION: 'eu-central-1',
    });
    expect(tables.TableNames).toEqual(expect.arrayContaining([names.usersTable, names.connectionsTable, names.runsTable, names.auditTable]));
    expect(secret.SecretString).toBe('x');
    expect(stack.secretsManager.calls()).toMatchObject({ CreateSecret: 1, GetSecretValue: 1 });
  });

  it('creates the users table with its key schema and the byEmail index', async () => {
    // Act
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: names.usersTable }));

    // Assess
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: userKeys.partition, KeyType: 'HASH' },
      { AttributeName: userKeys.sort, KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus, i.KeySchema])).toEqual([
      [
        userKeys.emailIndex,
        'ACTIVE',
        [
          { AttributeName: userKeys.partition, KeyType: 'HASH' },
          { AttributeName: userKeys.emailKey, KeyType: 'RANGE' },
        ],
      ],
    ]);
  });

  it('enforces attribute_not_exists on a second PutItem', async () => {
    // Prepare
    const put = new PutItemCommand({
      TableName: names.usersTable,
      Item: { tenantId: { S: 't1' }, sk: { S: 'personio#1' }, userId: { S: 'u1' } },
      ConditionExpression: 'attribute_not_exists(sk)',
    });
    await ddb.send(put);

    // Act
    const error = await rejectionOf(ddb.send(put));

    // Assess
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect(error.name).toBe('ConditionalCheckFailedException');
  });

  it('runs TransactWriteItems, and rolls back a transaction whose condition fails', async () => {
    // Prepare
    const user = { tenantId: 't2', sk: 'user#u1', email: 'a@example.com', emailKey: 'a@example.com' };
    const link = { tenantId: 't2', sk: 'personio#7', userId: 'u1' };

    // Act
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: names.usersTable, Item: user, ConditionExpression: 'attribute_not_exists(sk)' } },
          { Put: { TableName: names.usersTable, Item: link, ConditionExpression: 'attribute_not_exists(sk)' } },
          {
            Update: {
              TableName: names.runsTable,
              Key: { tenantId: 't2', sk: 'run#r1' },
              UpdateExpression: 'ADD created :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        ],
      }),
    );
    const failed = await rejectionOf(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: names.runsTable,
                Key: { tenantId: 't2', sk: 'run#r1' },
                UpdateExpression: 'ADD created :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
            { Put: { TableName: names.usersTable, Item: link, ConditionExpression: 'attribute_not_exists(sk)' } },
          ],
        }),
      ),
    );
    const run = await doc.send(new GetCommand({ TableName: names.runsTable, Key: { tenantId: 't2', sk: 'run#r1' } }));
    const storedUser = await doc.send(new GetCommand({ TableName: names.usersTable, Key: { tenantId: 't2', sk: 'user#u1' } }));

    // Assess
    expect(storedUser.Item).toEqual(user);
    expect(failed).toBeInstanceOf(TransactionCanceledException);
    expect((failed as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    expect(run.Item?.['created']).toBe(1);
  });

  it('sends, receives and deletes a message on the import queue', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: urls.importQueueUrl, MessageBody: JSON.stringify({ tenantId: 't1', runId: 'r1' }) }));

    // Act
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: urls.importQueueUrl, MaxNumberOfMessages: 10 }));
    const message = received.Messages?.[0];
    await sqs.send(new DeleteMessageCommand({ QueueUrl: urls.importQueueUrl, ReceiptHandle: message?.ReceiptHandle }));
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: urls.importQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );

    // Assess
    expect(received.Messages).toHaveLength(1);
    expect(JSON.parse(message?.Body ?? '')).toEqual({ tenantId: 't1', runId: 'r1' });
    expect(attributes.Attributes).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  it('points the import queue at the DLQ after 5 receives, with a 60 s visibility timeout', async () => {
    // Act
    const dlq = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls.importDlqUrl, AttributeNames: ['QueueArn'] }));
    const queue = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls.importQueueUrl, AttributeNames: ['All'] }));

    // Assess
    expect(dlq.Attributes?.QueueArn).toBe(`arn:aws:sqs:eu-central-1:000000000000:${names.importDlq}`);
    expect(JSON.parse(queue.Attributes?.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: dlq.Attributes?.QueueArn, maxReceiveCount: 5 });
    expect(queue.Attributes?.VisibilityTimeout).toBe('60');
  });

  it('provisions again without error and returns the same queues', async () => {
    // Act
    const again = await stack.provision(names);

    // Assess
    expect(again).toEqual(urls);
  });

  it('stops everything: the DynamoDB port refuses connections and the JVM is gone', async () => {
    // Prepare
    const dynamoPort = Number(new URL(stack.endpoints.dynamodb).port);
    const sqsPort = Number(new URL(stack.endpoints.sqs).port);
    expect(isAlive(stack.dynamoDbPid)).toBe(true);

    // Act
    await stack.stop();
    await stack.stop();

    // Assess
    expect(isAlive(stack.dynamoDbPid)).toBe(false);
    expect(ourJavaChildren()).toEqual([]);
    expect(await connectionError(dynamoPort)).toBe('ECONNREFUSED');
    expect(await connectionError(sqsPort)).toBe('ECONNREFUSED');
  });
});

describe('local stack start-up failures', () => {
  it('refuses an explicitly requested DynamoDB port that is taken, and leaves nothing running', async () => {
    // Prepare
    const busy = await occupy();
    const sqsPort = await findFreePort();
    const secretsManagerPort = await findFreePort();

    // Act
    const error = await rejectionOf(startLocalStack({ dynamoDbPort: busy.port, sqsPort, secretsManagerPort }));
    busy.server.close();

    // Assess
    expect(error).toBeInstanceOf(LocalStackError);
    expect((error as LocalStackError).code).toBe('port_in_use');
    expect(error.message).toContain(String(busy.port));
    expect(await isPortFree(sqsPort)).toBe(true);
    expect(await isPortFree(secretsManagerPort)).toBe(true);
  });

  it('says how to install Java when there is none, and closes the servers it had started', async () => {
    // Prepare: no `java` on PATH for this process.
    vi.stubEnv('PATH', '/nonexistent');
    const sqsPort = await findFreePort();
    const secretsManagerPort = await findFreePort();

    // Act
    const error = await rejectionOf(startLocalStack({ sqsPort, secretsManagerPort }));
    vi.unstubAllEnvs();

    // Assess
    expect(error).toBeInstanceOf(LocalStackError);
    expect((error as LocalStackError).code).toBe('java_missing');
    expect(error.message).toContain('apt-get install openjdk-17-jre-headless');
    expect(await isPortFree(sqsPort)).toBe(true);
    expect(await isPortFree(secretsManagerPort)).toBe(true);
  });

  it('refuses a taken SQS port without leaving a JVM behind', async () => {
    // Prepare
    const busy = await occupy();

    // Act
    const error = await rejectionOf(startLocalStack({ sqsPort: busy.port }));
    busy.server.close();

    // Assess
    expect(error).toBeInstanceOf(LocalStackError);
    expect((error as LocalStackError).code).toBe('port_in_use');
    expect(ourJavaChildren()).toEqual([]);
  });
});

describe('local stack when its process dies', () => {
  it('takes the JVM down with a process that crashes without calling stop()', async () => {
    // Prepare: a separate Node process starts a stack, reports the JVM's pid, then dies of an uncaught error.
    const script = [
      "const { startLocalStack } = await import('./local/aws/stack.ts');",
      'const stack = await startLocalStack();',
      'console.log(JSON.stringify({ pid: stack.dynamoDbPid }));',
      "setTimeout(() => { throw new Error('crash'); }, 0);",
    ].join('\n');

    // Act
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: process.cwd(), timeout: 45_000 },
        (_error, out) => resolve({ stdout: out, code: child.exitCode }),
      );
    });
    const jvmPid = (JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { pid?: number }).pid;
    // The signal is sent during exit; give the JVM a moment to be gone.
    for (let i = 0; i < 20 && jvmPid !== undefined && isAlive(jvmPid); i++) await sleep(100);

    // Assess
    expect(code).not.toBe(0);
    expect(jvmPid).toEqual(expect.any(Number));
    expect(isAlive(jvmPid as number)).toBe(false);
  });
});
