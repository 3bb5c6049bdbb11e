import { writeFile } from 'node:fs/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { envNames } from '../../lib/config.js';
import { RunStore } from '../../lib/runs/store.js';
import { UserStore } from '../../lib/users/store.js';
import type { FetchOutcome } from '../../lib/fetch/run-fetch.js';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, startLocalStack, type LocalStack, type ProvisionedQueues } from '../aws/stack.js';
import { LOCAL_CALLER_ROLE_ARN } from '../aws/identity.js';
import { DEFAULT_SIM_CREDENTIAL, startPersonioSim, type PersonioSim, type SimOptions } from '../personio-sim/index.js';
import { SqsEventSource, type SqsHandler } from './event-source.js';
import { DynamoStreamSource, type StreamHandler } from './stream-source.js';
import { createWebhookServer, type WebhookHandler, type WebhookServer } from './webhook-server.js';
import { fetchContext } from './events.js';
import { ConnectionStore } from '../../lib/tenants/connections.js';
import type { SweepOutcome } from '../../lib/runs/sweep.js';

/** A Personio API root, without a credential: connect takes the credential in its body (npm run serve --personio-url). */
export interface PersonioEndpoint {
  url: string;
}

export interface PersonioTarget extends PersonioEndpoint {
  clientId: string;
  clientSecret: string;
}

export interface LocalEnvironmentOptions {
  /** Use this Personio instead of starting the simulator: with a credential (npm start), or without (npm run serve). */
  personio?: PersonioTarget | PersonioEndpoint;
  /** Simulator options when no Personio is given. */
  simulator?: SimOptions;
  onStatus?: (message: string) => void;
  workerConcurrency?: number;
  /** POWERTOOLS_LOG_LEVEL for the handlers. */
  logLevel?: string;
  /**
   * Serve the webhook route (POST /webhooks/personio/{tenantId}) on 127.0.0.1 (`port`, default any free one), give
   * connect its URL (WEBHOOK_BASE_URL) so it registers a webhook with Personio, and consume the changes queue with the
   * refresh as the deployed event source mapping does. Off by default: without it connect answers webhooks
   * `unavailable` and imports run on the schedule only.
   */
  webhooks?: boolean | { port?: number };
  /** Publish change events: the users and runs tables' streams feed the publisher, which puts them on the local bus. */
  changeEvents?: boolean;
  /** Each published change event, one JSON line per entry (implies changeEvents). */
  eventsFile?: string;
  /**
   * Loads the handlers, given the environment computed for them (the variables also set on process.env). Default: the
   * TypeScript handlers imported into this process. The bundled-import test runs the deployed bundles instead, each in
   * a Node process of its own.
   */
  loadHandlers?: (env: Record<string, string>) => Promise<Handlers>;
}

export interface Handlers {
  connect: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  fetch: (event: unknown, context: Context) => Promise<FetchOutcome>;
  worker: SqsHandler;
  /** The scheduled sweeper of stalled runs (deployed on a 5-minute schedule; locally, whoever needs it calls it). */
  sweeper: () => Promise<SweepOutcome>;
  /** The public webhook route's function. */
  webhook: WebhookHandler;
  /** The changes queue's consumer: delta runs. */
  refresh: SqsHandler;
  /** The tables' stream consumer: change events on the bus. */
  publisher: StreamHandler;
}

export interface LocalEnvironment<P extends PersonioEndpoint = PersonioTarget> {
  stack: LocalStack;
  sim: PersonioSim | undefined;
  /** The Personio the handlers talk to, and its credential unless it was given without one. */
  personio: P;
  handlers: Handlers;
  eventSource: SqsEventSource;
  /** The changes queue's event source (started with the environment when webhooks are on). */
  refreshSource: SqsEventSource;
  /** The webhook route, when webhooks are on. */
  webhookServer: WebhookServer | undefined;
  /** The users and runs tables' stream sources feeding the publisher, when change events are on. */
  streamSources: DynamoStreamSource[];
  /** Resolves once everything handed to the background consumers so far is handled (stream records published). */
  changeEventsIdle(): Promise<void>;
  runs: RunStore;
  users: UserStore;
  connections: ConnectionStore;
  sqs: SQSClient;
  queueUrls: ProvisionedQueues;
  stop(): Promise<void>;
}

/** The refresh's event source mapping (infra): batch size and batching window, the coalescing of changes. */
export const REFRESH_BATCH_SIZE = 100;
export const REFRESH_BATCH_WINDOW_MS = 2_000;

export const localNames = {
  usersTable: 'dado-personio-users',
  connectionsTable: 'dado-personio-connections',
  runsTable: 'dado-personio-runs',
  auditTable: 'dado-personio-audit',
  importQueue: 'dado-personio-import',
  importDlq: 'dado-personio-import-dlq',
  changesQueue: 'dado-personio-changes',
  changesDlq: 'dado-personio-changes-dlq',
  eventBus: 'dado-personio-events',
  scheduleGroup: 'dado-personio-imports',
  fetchFunction: 'dado-personio-fetch',
  schedulerRole: 'dado-personio-scheduler',
  secretPrefix: 'dado/personio/',
  // The local stage's secrets key, by alias as connect may name it (the Secrets Manager stand-in records it).
  secretsKmsKeyId: 'alias/dado-local-secrets',
};

/**
 * Starts the local AWS stack and (unless a real Personio is given) the simulator, points the
 * process at them through the same environment variables the deployed functions get, and loads the
 * real handlers. Everything started is stopped by stop(), also when start-up fails half-way.
 */
export function startLocalEnvironment(options?: LocalEnvironmentOptions & { personio?: PersonioTarget }): Promise<LocalEnvironment>;
export function startLocalEnvironment(options: LocalEnvironmentOptions & { personio: PersonioEndpoint }): Promise<LocalEnvironment<PersonioEndpoint>>;
export async function startLocalEnvironment(options: LocalEnvironmentOptions = {}): Promise<LocalEnvironment<PersonioEndpoint>> {
  const status = options.onStatus ?? (() => {});
  let stack: LocalStack | undefined;
  let sim: PersonioSim | undefined;
  let eventSource: SqsEventSource | undefined;
  let refreshSource: SqsEventSource | undefined;
  let webhookServer: WebhookServer | undefined;
  const streamSources: DynamoStreamSource[] = [];
  const stop = async () => {
    await webhookServer?.close().catch(() => undefined);
    await refreshSource?.stop().catch(() => undefined);
    await Promise.all(streamSources.map((source) => source.stop().catch(() => undefined)));
    await eventSource?.stop().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
  };
  try {
    status('starting DynamoDB Local, SQS, Secrets Manager, Scheduler and Lambda');
    // This run's events only, like --report and --dump-users, which are written afresh.
    if (options.eventsFile !== undefined) await writeFile(options.eventsFile, '');
    stack = await startLocalStack({ onStatus: status, ...(options.eventsFile !== undefined ? { eventsFile: options.eventsFile } : {}) });
    const queueUrls = await stack.provision(localNames);
    stack.scheduler.createGroup(localNames.scheduleGroup);

    let personio: PersonioEndpoint | undefined = options.personio;
    if (!personio) {
      status('starting the Personio simulator');
      sim = await startPersonioSim(options.simulator ?? {});
      const credential = options.simulator?.credentials?.[0] ?? DEFAULT_SIM_CREDENTIAL;
      personio = { url: sim.url, ...credential };
    }

    // Started before the handlers exist (connect needs its URL in its environment), answering once they do.
    let handlers: Handlers | undefined;
    if (options.webhooks) {
      webhookServer = createWebhookServer(async (event) => {
        if (!handlers) return { statusCode: 503, body: JSON.stringify({ code: 'starting', message: 'The local stack is still starting.' }) };
        return handlers.webhook(event);
      });
      await webhookServer.start(typeof options.webhooks === 'object' ? options.webhooks.port : undefined);
    }

    const functionEnv: Record<string, string> = {
      ...stack.env,
      [envNames.usersTable]: localNames.usersTable,
      [envNames.connectionsTable]: localNames.connectionsTable,
      [envNames.runsTable]: localNames.runsTable,
      [envNames.auditTable]: localNames.auditTable,
      [envNames.importQueueUrl]: queueUrls.importQueueUrl,
      [envNames.changesQueueUrl]: queueUrls.changesQueueUrl,
      [envNames.eventBusName]: localNames.eventBus,
      ...(webhookServer ? { [envNames.webhookBaseUrl]: webhookServer.url } : {}),
      [envNames.secretPrefix]: localNames.secretPrefix,
      [envNames.secretsKmsKeyId]: localNames.secretsKmsKeyId,
      [envNames.personioBaseUrl]: personio.url,
      [envNames.personioAppId]: process.env[envNames.personioAppId] ?? 'DADO',
      [envNames.scheduleGroupName]: localNames.scheduleGroup,
      [envNames.schedulerRoleArn]: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${localNames.schedulerRole}`,
      [envNames.fetchFunctionArn]: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${localNames.fetchFunction}`,
      [envNames.fetchFunctionName]: localNames.fetchFunction,
      [envNames.stage]: 'local',
      // The role the local callers (npm run serve, the runner, the tests) sign as: the only one connect lets in.
      [envNames.allowedCallers]: LOCAL_CALLER_ROLE_ARN,
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? process.env['POWERTOOLS_LOG_LEVEL'] ?? 'WARN',
      // CloudWatch EMF blobs on stdout would bury the runner's own output; nothing reads them locally.
      POWERTOOLS_METRICS_DISABLED: process.env['POWERTOOLS_METRICS_DISABLED'] ?? 'true',
    };
    Object.assign(process.env, functionEnv);

    const loaded: Handlers = options.loadHandlers ? await options.loadHandlers({ ...functionEnv }) : await importSourceHandlers();
    handlers = loaded;
    // "Import now" reaches the fetch through the Lambda stand-in, as it reaches the deployed function.
    stack.lambda.register(localNames.fetchFunction, (event) => loaded.fetch(event, fetchContext()));

    const sqs = new SQSClient({});
    eventSource = new SqsEventSource({ sqs, queueUrl: queueUrls.importQueueUrl, handler: loaded.worker, concurrency: options.workerConcurrency ?? 2 });
    // As the deployed mapping (infra/constructs/refresh.ts): batches of up to 100 changes gathered over a short window
    // are one delta run per tenant.
    refreshSource = new SqsEventSource({
      sqs,
      queueUrl: queueUrls.changesQueueUrl,
      handler: loaded.refresh,
      concurrency: 2,
      batchSize: REFRESH_BATCH_SIZE,
      batchWindowMs: REFRESH_BATCH_WINDOW_MS,
      functionName: 'personio-refresh',
      functionTimeoutMs: 5 * 60_000,
    });
    if (options.webhooks) refreshSource.start();
    if (options.changeEvents || options.eventsFile !== undefined) {
      for (const tableName of [localNames.usersTable, localNames.runsTable]) {
        const source = new DynamoStreamSource({ endpoint: stack.endpoints.dynamodb, tableName, handler: loaded.publisher, functionName: 'personio-publisher' });
        streamSources.push(source);
        await source.start();
      }
    }
    const db = createDocumentClient();
    return {
      stack,
      sim,
      personio,
      handlers,
      eventSource,
      refreshSource,
      webhookServer,
      streamSources,
      changeEventsIdle: async () => {
        await Promise.all(streamSources.map((source) => source.idle()));
      },
      runs: new RunStore(db, localNames.runsTable),
      users: new UserStore(db, localNames.usersTable),
      connections: new ConnectionStore(db, localNames.connectionsTable),
      sqs,
      queueUrls,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The TypeScript handlers, imported into this process. */
export async function importSourceHandlers(): Promise<Handlers> {
  // Imported only now: the handlers read their configuration at module load, as on Lambda.
  const [connect, fetch, worker, sweeper, webhook, refresh, publisher] = await Promise.all([
    import('../../functions/connect.js'),
    import('../../functions/fetch.js'),
    import('../../functions/worker.js'),
    import('../../functions/sweeper.js'),
    import('../../functions/webhook.js'),
    import('../../functions/refresh.js'),
    import('../../functions/publisher.js'),
  ]);
  return {
    connect: connect.handler,
    fetch: fetch.handler,
    worker: worker.handler,
    sweeper: sweeper.handler,
    webhook: webhook.handler,
    refresh: refresh.handler,
    publisher: publisher.handler,
  };
}
