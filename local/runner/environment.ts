import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { envNames } from '../../lib/config.js';
import { RunStore } from '../../lib/runs/store.js';
import { UserStore } from '../../lib/users/store.js';
import type { FetchOutcome } from '../../lib/fetch/run-fetch.js';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, startLocalStack, type LocalStack } from '../aws/stack.js';
import { LOCAL_CALLER_ROLE_ARN } from '../aws/identity.js';
import { DEFAULT_SIM_CREDENTIAL, startPersonioSim, type PersonioSim, type SimOptions } from '../personio-sim/index.js';
import { SqsEventSource, type SqsHandler } from './event-source.js';
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
}

export interface LocalEnvironment<P extends PersonioEndpoint = PersonioTarget> {
  stack: LocalStack;
  sim: PersonioSim | undefined;
  /** The Personio the handlers talk to, and its credential unless it was given without one. */
  personio: P;
  handlers: Handlers;
  eventSource: SqsEventSource;
  runs: RunStore;
  users: UserStore;
  connections: ConnectionStore;
  sqs: SQSClient;
  queueUrls: { importQueueUrl: string; importDlqUrl: string };
  stop(): Promise<void>;
}

export const localNames = {
  usersTable: 'dado-personio-users',
  connectionsTable: 'dado-personio-connections',
  runsTable: 'dado-personio-runs',
  auditTable: 'dado-personio-audit',
  importQueue: 'dado-personio-import',
  importDlq: 'dado-personio-import-dlq',
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
  const stop = async () => {
    await eventSource?.stop().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
  };
  try {
    status('starting DynamoDB Local, SQS, Secrets Manager, Scheduler and Lambda');
    stack = await startLocalStack({ onStatus: status });
    const queueUrls = await stack.provision(localNames);
    stack.scheduler.createGroup(localNames.scheduleGroup);

    let personio: PersonioEndpoint | undefined = options.personio;
    if (!personio) {
      status('starting the Personio simulator');
      sim = await startPersonioSim(options.simulator ?? {});
      const credential = options.simulator?.credentials?.[0] ?? DEFAULT_SIM_CREDENTIAL;
      personio = { url: sim.url, ...credential };
    }

    const functionEnv: Record<string, string> = {
      ...stack.env,
      [envNames.usersTable]: localNames.usersTable,
      [envNames.connectionsTable]: localNames.connectionsTable,
      [envNames.runsTable]: localNames.runsTable,
      [envNames.auditTable]: localNames.auditTable,
      [envNames.importQueueUrl]: queueUrls.importQueueUrl,
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

    const handlers: Handlers = options.loadHandlers ? await options.loadHandlers({ ...functionEnv }) : await importSourceHandlers();
    // "Import now" reaches the fetch through the Lambda stand-in, as it reaches the deployed function.
    stack.lambda.register(localNames.fetchFunction, (event) => handlers.fetch(event, fetchContext()));

    const sqs = new SQSClient({});
    eventSource = new SqsEventSource({ sqs, queueUrl: queueUrls.importQueueUrl, handler: handlers.worker, concurrency: options.workerConcurrency ?? 2 });
    const db = createDocumentClient();
    return {
      stack,
      sim,
      personio,
      handlers,
      eventSource,
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
async function importSourceHandlers(): Promise<Handlers> {
  // Imported only now: the handlers read their configuration at module load, as on Lambda.
  const [connect, fetch, worker, sweeper] = await Promise.all([
    import('../../functions/connect.js'),
    import('../../functions/fetch.js'),
    import('../../functions/worker.js'),
    import('../../functions/sweeper.js'),
  ]);
  return { connect: connect.handler, fetch: fetch.handler, worker: worker.handler, sweeper: sweeper.handler };
}
