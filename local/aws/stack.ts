import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { tableDefinition, type TableKind } from '../../lib/storage/tables.js';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { startEventBridge, type EventBridgeStandIn } from './eventbridge.js';
import { LocalStackError } from './errors.js';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './identity.js';
import { isAddressInUse } from './ports.js';
import { startLambda, type LambdaStandIn, type LocalFunction } from './lambda.js';
import { startScheduler, type SchedulerStandIn } from './scheduler.js';
import { startSecretsManager, type SecretsManagerStandIn } from './secrets-manager.js';
import { startSqs, type LocalSqs } from './sqs.js';

export { LocalStackError, type LocalStackErrorCode } from './errors.js';
export { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './identity.js';

/**
 * The AWS services the product uses, offline and without Docker: DynamoDB Local (a child JVM),
 * local-aws-sqs, and the Secrets Manager, EventBridge Scheduler, Lambda and EventBridge (PutEvents) stand-ins (all in
 * this process).
 *
 * The product reaches them only through the AWS_ENDPOINT_URL_* variables in `env`; the stack never
 * touches process.env itself, so the caller decides where that env applies (a child process, or
 * process.env of the local runner).
 *
 * Signals are the caller's: on SIGINT/SIGTERM call stop(). If the process exits without stop() (an
 * uncaught error, process.exit), an 'exit' hook still kills the JVM. Only SIGKILL of this process
 * can orphan the JVM.
 */

export interface LocalStackNames {
  usersTable: string;
  connectionsTable: string;
  runsTable: string;
  auditTable: string;
  importQueue: string;
  importDlq: string;
  /** The webhook receiver's queue of changes (and its DLQ), consumed by the refresh. */
  changesQueue: string;
  changesDlq: string;
  /** The product's event bus (change events); created on the EventBridge stand-in when given. */
  eventBus?: string;
}

export interface LocalStack {
  /** AWS_ENDPOINT_URL_{DYNAMODB,SQS,SECRETS_MANAGER,SCHEDULER,LAMBDA,EVENTBRIDGE}, AWS_REGION and dummy credentials. */
  env: Record<string, string>;
  endpoints: { dynamodb: string; sqs: string; secretsManager: string; scheduler: string; lambda: string; eventBridge: string };
  secretsManager: { calls(): Record<string, number>; setUnavailable(v: boolean): void };
  /** The EventBridge Scheduler stand-in (schedules are stored, never fired). */
  scheduler: Pick<SchedulerStandIn, 'createGroup' | 'schedules' | 'calls' | 'setUnavailable'>;
  /** The Lambda Invoke stand-in: in-process functions registered by name. */
  lambda: Pick<LambdaStandIn, 'register' | 'idle' | 'failures' | 'calls'>;
  /** The EventBridge PutEvents stand-in: the events published, and faults for tests. */
  eventBridge: Pick<EventBridgeStandIn, 'createBus' | 'events' | 'calls' | 'failNext' | 'setUnavailable'>;
  /** Process id of the DynamoDB Local JVM (for diagnostics, and for tests that check it is gone). */
  dynamoDbPid: number;
  /** Creates the tables and queues; safe to call again when they exist. */
  provision(names: LocalStackNames): Promise<ProvisionedQueues>;
  /** Stops everything started; idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  onStatus?: (message: string) => void;
  dynamoDbPort?: number;
  sqsPort?: number;
  secretsManagerPort?: number;
  /** Called when a function invoked asynchronously through the Lambda stand-in throws (default: a line on stderr). */
  onLambdaFailure?: (functionName: string, error: unknown) => void;
  /** Each event the EventBridge stand-in accepts is appended to this file as one JSON line (--events FILE). */
  eventsFile?: string;
}

export interface ProvisionedQueues {
  importQueueUrl: string;
  importDlqUrl: string;
  changesQueueUrl: string;
  changesDlqUrl: string;
}

/** Matches what the deployed import queue uses: a message is retried 5 times before the DLQ. */
export const IMPORT_QUEUE_MAX_RECEIVE_COUNT = 5;
export const IMPORT_QUEUE_VISIBILITY_TIMEOUT_SECONDS = 60;
/** The changes queue, as deployed (infra/constructs/changes-queue.ts): retried, then set aside in its DLQ. */
export const CHANGES_QUEUE_MAX_RECEIVE_COUNT = 20;
export const CHANGES_QUEUE_VISIBILITY_TIMEOUT_SECONDS = 60;
const TABLE_ACTIVE_TIMEOUT_MS = 30_000;

export async function startLocalStack(opts: StartOptions = {}): Promise<LocalStack> {
  const status = opts.onStatus ?? (() => {});
  const started = Date.now();

  // The three start in parallel: the in-process servers take milliseconds, the JVM seconds. When an
  // in-process server fails, the JVM start is aborted rather than awaited.
  const abortDynamo = new AbortController();
  const onLambdaFailure =
    opts.onLambdaFailure ??
    ((name: string, error: unknown) =>
      process.stderr.write(`local Lambda: ${name} failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`));
  /** A sibling that fails to start aborts the JVM start, then rejects with the reported error. */
  const failWith =
    (code: ServerFailureCode, what: string, port: number | undefined) =>
    (error: unknown): never => {
      const failure = serverError(code, what, port, error);
      abortDynamo.abort(failure);
      throw failure;
    };
  const [dynamoResult, sqsResult, smResult, schedulerResult, lambdaResult, eventBridgeResult] = await Promise.allSettled([
    startDynamoDbLocal({
      ...(opts.dynamoDbPort !== undefined && { port: opts.dynamoDbPort }),
      onStatus: status,
      signal: abortDynamo.signal,
    }),
    startSqs({ ...(opts.sqsPort !== undefined && { port: opts.sqsPort }), region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID }).catch(
      failWith('sqs_failed', 'SQS (local-aws-sqs)', opts.sqsPort),
    ),
    startSecretsManager({
      ...(opts.secretsManagerPort !== undefined && { port: opts.secretsManagerPort }),
      region: LOCAL_REGION,
    }).catch(failWith('secrets_manager_failed', 'the Secrets Manager stand-in', opts.secretsManagerPort)),
    startScheduler({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID }).catch(failWith('scheduler_failed', 'the EventBridge Scheduler stand-in', undefined)),
    startLambda({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID, onFailure: (f) => onLambdaFailure(f.functionName, f.error) }).catch(
      failWith('lambda_failed', 'the Lambda stand-in', undefined),
    ),
    startEventBridge({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID, ...(opts.eventsFile !== undefined && { eventsFile: opts.eventsFile }) }).catch(
      failWith('eventbridge_failed', 'the EventBridge stand-in', undefined),
    ),
  ]);

  const results = [dynamoResult, sqsResult, smResult, schedulerResult, lambdaResult, eventBridgeResult];
  if (
    dynamoResult.status === 'rejected' ||
    sqsResult.status === 'rejected' ||
    smResult.status === 'rejected' ||
    schedulerResult.status === 'rejected' ||
    lambdaResult.status === 'rejected' ||
    eventBridgeResult.status === 'rejected'
  ) {
    // No half-started stack: whatever did start is stopped before the error is reported.
    await Promise.allSettled([
      dynamoResult.status === 'fulfilled' ? dynamoResult.value.stop() : undefined,
      sqsResult.status === 'fulfilled' ? sqsResult.value.close() : undefined,
      smResult.status === 'fulfilled' ? smResult.value.close() : undefined,
      schedulerResult.status === 'fulfilled' ? schedulerResult.value.close() : undefined,
      lambdaResult.status === 'fulfilled' ? lambdaResult.value.close() : undefined,
      eventBridgeResult.status === 'fulfilled' ? eventBridgeResult.value.close() : undefined,
    ]);
    // The first failure in start order; an aborted DynamoDB start rejects with its sibling's error anyway.
    const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    throw failure.reason;
  }

  const stack = assemble(dynamoResult.value, sqsResult.value, smResult.value, schedulerResult.value, lambdaResult.value, eventBridgeResult.value);
  status(
    `Local AWS ready in ${((Date.now() - started) / 1000).toFixed(1)} s: DynamoDB ${stack.endpoints.dynamodb}, SQS ${stack.endpoints.sqs}, Secrets Manager ${stack.endpoints.secretsManager}, Scheduler ${stack.endpoints.scheduler}, Lambda ${stack.endpoints.lambda}, EventBridge ${stack.endpoints.eventBridge}`,
  );
  return stack;
}

type ServerFailureCode = 'sqs_failed' | 'secrets_manager_failed' | 'scheduler_failed' | 'lambda_failed' | 'eventbridge_failed';

function serverError(code: ServerFailureCode, what: string, port: number | undefined, error: unknown): LocalStackError {
  if (isAddressInUse(error)) {
    return new LocalStackError('port_in_use', `Port ${port} (${what}) is already in use: stop whatever listens there or choose another port.`, {
      cause: error,
    });
  }
  return new LocalStackError(code, `Could not start ${what}: ${(error as Error).message}`, { cause: error });
}

function assemble(
  dynamo: DynamoDbLocal,
  sqs: LocalSqs,
  sm: SecretsManagerStandIn,
  scheduler: SchedulerStandIn,
  lambda: LambdaStandIn,
  eventBridge: EventBridgeStandIn,
): LocalStack {
  const endpoints = {
    dynamodb: dynamo.endpoint,
    sqs: sqs.url,
    secretsManager: sm.url,
    scheduler: scheduler.url,
    lambda: lambda.url,
    eventBridge: eventBridge.url,
  };
  const ddbClient = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const sqsClient = new SQSClient({ endpoint: endpoints.sqs, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

  async function ensureTable(kind: TableKind, name: string): Promise<void> {
    try {
      await ddbClient.send(new CreateTableCommand(tableDefinition(kind, name)));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    // DynamoDB Local reports ACTIVE at once; the wait keeps provision() honest if that ever changes.
    const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
    for (;;) {
      const { Table } = await ddbClient.send(new DescribeTableCommand({ TableName: name }));
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
      if (Date.now() > deadline)
        throw new LocalStackError('dynamodb_failed', `Table ${name} did not become ACTIVE within ${TABLE_ACTIVE_TIMEOUT_MS / 1000} s.`);
      await sleep(100);
    }
  }

  async function queueWithDlq(name: string, dlqName: string, visibilitySeconds: number, maxReceiveCount: number): Promise<{ url: string; dlqUrl: string }> {
    // CreateQueue is idempotent for the same name and attributes, as in AWS.
    const dlq = await sqsClient.send(new CreateQueueCommand({ QueueName: dlqName }));
    const dlqUrl = required(dlq.QueueUrl, `CreateQueue returned no QueueUrl for ${dlqName}`);
    const dlqAttributes = await sqsClient.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
    const dlqArn = required(dlqAttributes.Attributes?.QueueArn, `GetQueueAttributes returned no QueueArn for ${dlqName}`);
    const queue = await sqsClient.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: String(visibilitySeconds),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
        },
      }),
    );
    return { url: required(queue.QueueUrl, `CreateQueue returned no QueueUrl for ${name}`), dlqUrl };
  }

  async function provision(names: LocalStackNames): Promise<ProvisionedQueues> {
    await Promise.all([
      ensureTable('users', names.usersTable),
      ensureTable('connections', names.connectionsTable),
      ensureTable('runs', names.runsTable),
      ensureTable('audit', names.auditTable),
    ]);
    if (names.eventBus !== undefined) eventBridge.createBus(names.eventBus);

    const imports = await queueWithDlq(names.importQueue, names.importDlq, IMPORT_QUEUE_VISIBILITY_TIMEOUT_SECONDS, IMPORT_QUEUE_MAX_RECEIVE_COUNT);
    const changes = await queueWithDlq(names.changesQueue, names.changesDlq, CHANGES_QUEUE_VISIBILITY_TIMEOUT_SECONDS, CHANGES_QUEUE_MAX_RECEIVE_COUNT);
    return { importQueueUrl: imports.url, importDlqUrl: imports.dlqUrl, changesQueueUrl: changes.url, changesDlqUrl: changes.dlqUrl };
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      ddbClient.destroy();
      sqsClient.destroy();
      const results = await Promise.allSettled([dynamo.stop(), sqs.close(), sm.close(), scheduler.close(), lambda.close(), eventBridge.close()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })());

  return {
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
      AWS_ENDPOINT_URL_SCHEDULER: endpoints.scheduler,
      AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventBridge,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    },
    endpoints,
    secretsManager: { calls: () => sm.calls(), setUnavailable: (v) => sm.setUnavailable(v) },
    scheduler: {
      createGroup: (name) => scheduler.createGroup(name),
      schedules: () => scheduler.schedules(),
      calls: () => scheduler.calls(),
      setUnavailable: (v) => scheduler.setUnavailable(v),
    },
    lambda: {
      register: (name: string, fn: LocalFunction) => lambda.register(name, fn),
      idle: () => lambda.idle(),
      failures: () => lambda.failures(),
      calls: () => lambda.calls(),
    },
    eventBridge: {
      createBus: (name) => eventBridge.createBus(name),
      events: () => eventBridge.events(),
      calls: () => eventBridge.calls(),
      failNext: (n) => eventBridge.failNext(n),
      setUnavailable: (v) => eventBridge.setUnavailable(v),
    },
    dynamoDbPid: dynamo.pid,
    provision,
    stop,
  };
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new LocalStackError('sqs_failed', message);
  return value;
}
