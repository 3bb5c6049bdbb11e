import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { functionBundling, type FunctionName } from '../bundling.js';

const { alias, ...bundlingOptions } = functionBundling;
import { importMetrics } from '../../lib/observability/metrics.js';
import { acknowledge } from '../nag.js';
import { deadLetterQueue, retainedLogGroup } from './common.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export type { FunctionName };

interface FunctionSettings {
  description: string;
  timeout: Duration;
  memorySize: number;
  /** Fixed here only where the function must not run twice at once (the sweeper); fetch and worker take theirs from the stage. */
  reservedConcurrentExecutions?: number;
}

/**
 * Timeouts and memory, with the reasons. Memory also buys CPU (a full vCPU at 1,769 MB): it shortens the cold start
 * of the interactive connect, and JSON and hashing work in fetch and worker.
 */
export const functionSettings: Record<FunctionName, FunctionSettings> = {
  connect: {
    description: 'Personio connect API: validates credentials against Personio, stores them, saves the connection',
    // Under API Gateway's 30 s integration limit, so a slow Personio ends in our own JSON error, not a gateway 503
    // while the function keeps running. It makes three Personio calls (auth, attributes, one employee).
    timeout: Duration.seconds(25),
    memorySize: 512,
  },
  webhook: {
    description: 'Personio webhook receiver: authenticates a delivery, records the change once and queues it for the refresh',
    // Personio waits 3 s for the answer; a delivery takes one GetItem, one PutItem and one SendMessage (tens of ms), and
    // the SQS client gives up within ~2 s (functions/webhook.ts). 5 s bounds a cold start on a slow path: an answer
    // after Personio gave up still queued the change once, and Personio's retry is then a duplicate.
    timeout: Duration.seconds(5),
    // Memory buys CPU: at 512 MB the cold start (module load, zod, the SDK clients) stays well under Personio's 3 s,
    // where 128 MB took seconds; the work itself needs little memory.
    memorySize: 512,
  },
  fetch: {
    description: "Personio fetch: pages through one tenant's employees and queues them for the worker",
    // 15 minutes (Lambda's maximum): a 50,000-employee tenant needs 3-4 min of paging at 15 req/s, more under 429
    // backoff, and the fetch may also finalize the run. The code budgets itself from getRemainingTimeInMillis(), so
    // this is a ceiling, not a cost.
    timeout: Duration.minutes(15),
    // It holds one page at a time, but finalizing a run lists all of the tenant's users (50,000 records ≈ 100-200 MB
    // of objects).
    memorySize: 1024,
  },
  refresh: {
    description: 'Personio refresh: re-reads the employees webhooks named (a delta run per tenant per batch) and queues them for the worker',
    // A batch names up to 100 employees per tenant, read at Personio's 15/s under the budget the tenant's full fetch
    // shares (lib/personio/budget.ts): seconds, or up to a minute behind a full window, plus waiting for a full fetch
    // to hand the budget over. 1,000 changes of one tenant in ten batches at 300/min need ~3.5 min in all; 5 minutes
    // bounds the last of them. A delta run's finalization reads only the users it wrote (and all of them only when
    // Personio answered 404 for someone).
    timeout: Duration.minutes(5),
    memorySize: 512,
    // No reserved concurrency: one tenant's delta runs may overlap safely (no tenant lock; every write is versioned by
    // the run's start and Personio's pacing is the shared budget's), and the event source's maxConcurrency (5) bounds
    // the fleet.
  },
  worker: {
    description: 'Personio import worker: maps and upserts a batch of employees, finalizes the run with the last one',
    // A batch is ≤ 10 messages of ≤ ~100 employees: ≤ 2,000 writes on a first import, seconds of DynamoDB time.
    // The budget is for the last message of a run, which finalizes it inline: manager links and deactivations,
    // written one by one (~20,000 writes at ~5 ms ≈ 100 s). The queue's visibility timeout is derived from this.
    timeout: Duration.minutes(3),
    // Finalizing holds all of the tenant's users in memory, like the fetch.
    memorySize: 1024,
  },
  publisher: {
    description: "Personio change events: turns the users and runs tables' streams into events on the product's bus",
    // A batch is ≤ 100 stream records: ≤ 10 PutEvents requests, under a second. The rest is the budget for re-sending
    // refused entries (20 s, functions/publisher.ts) plus its margin; a minute bounds a stuck call well before the
    // record age limit.
    timeout: Duration.minutes(1),
    // JSON of ids and field names: little memory; 256 MB keeps the cold start short.
    memorySize: 256,
  },
  sweeper: {
    description: 'Personio run sweeper: every few minutes, settles runs whose lease expired (fails stalled runs, finishes stalled finalizations)',
    // Usually a scan of the connections and a few reads per tenant with a current run: seconds. The budget is for
    // finishing stalled finalizations (the worker's last-message work: ~100 s of writes for 20,000 users), eight
    // tenants at a time (lib/runs/sweep.ts). 4 minutes stays under the sweep period, so sweeps do not pile up, and
    // under the 5-minute lease of a finalization or approval the sweeper claims (lib/runs/lease.ts runLeases), so
    // nobody else can take a claim over while the sweep that holds it still runs. A sweep cut short leaves the rest
    // to the next one. The stack tests check both bounds.
    timeout: Duration.minutes(4),
    // Finishing a finalization lists all of a tenant's users, like the worker.
    memorySize: 1024,
    // One sweep at a time: a second would only race the first for the same claims. A firing that finds the previous
    // sweep still running is throttled and retried by Lambda until the event is one period old (SweepSchedule).
    reservedConcurrentExecutions: 1,
  },
};

/** The most execution environments fetch and worker may use (a stage setting, see infra/config.ts). */
export interface ReservedConcurrency {
  fetch: number;
  worker: number;
}

interface ImportFunctionsProps {
  logRetention: RetentionDays;
  reservedConcurrency: ReservedConcurrency;
}

/** Lambda's limit on a function name. */
const MAX_FUNCTION_NAME = 64;

/**
 * The fetch's physical name: `<stackName>-fetch`. Every tenant's schedule stores the fetch's ARN (lib/schedules), so the
 * name must not change when the construct tree does; a generated name would, and every schedule would then invoke a
 * deleted function. Function names are per account and region, and so are stack names: no two stages collide.
 */
export function fetchFunctionName(stackName: string): string {
  const name = `${stackName}-fetch`;
  if (name.length > MAX_FUNCTION_NAME)
    throw new Error(
      `The fetch function's name ${name} is longer than Lambda's ${MAX_FUNCTION_NAME} characters: choose a stack name of at most ${MAX_FUNCTION_NAME - '-fetch'.length}.`,
    );
  return name;
}

/**
 * The handlers, bundled by esbuild (no Docker), with a log group and a role each. The roles start with nothing
 * but writing their own log group (no AWSLambdaBasicExecutionRole, which allows logs:CreateLogGroup on `*`); the stack
 * adds each permission through `infra/grants.ts`.
 */
export class ImportFunctions extends Construct {
  readonly connect: NodejsFunction;
  /** Personio's webhook deliveries, behind the public route (infra/constructs/webhook-api.ts). */
  readonly webhook: NodejsFunction;
  readonly fetch: NodejsFunction;
  /** Delta runs: consumes the changes queue (the stack attaches its event source). */
  readonly refresh: NodejsFunction;
  readonly worker: NodejsFunction;
  /** Publishes change events from the tables' streams (infra/constructs/change-events.ts). */
  readonly publisher: NodejsFunction;
  /** Settles stalled runs on a schedule (infra/constructs/sweep-schedule.ts). */
  readonly sweeper: NodejsFunction;
  /** Asynchronous invocations of the fetch (schedules, connect's "import now") that failed all retries. */
  readonly fetchDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ImportFunctionsProps) {
    super(scope, id);
    this.fetchDeadLetterQueue = deadLetterQueue(
      this,
      'FetchDeadLetterQueue',
      'This queue is itself the dead-letter queue of the fetch function; nothing consumes it, so a redrive policy would never apply. Its depth is alarmed.',
    );

    const { reservedConcurrency } = props;
    this.connect = this.function('Connect', 'connect', props);
    this.webhook = this.function('Webhook', 'webhook', props);
    // Reserved concurrency is both a floor and a ceiling. The fetch's ceiling is the global governor of Personio
    // traffic and egress (throttled asynchronous events wait in Lambda's queue and are retried); the worker's floor keeps
    // the SQS event source from being throttled by other functions of the account, which would return messages to the
    // queue with their receive count raised until they dead-letter.
    this.fetch = this.function('Fetch', 'fetch', props, {
      deadLetterQueue: this.fetchDeadLetterQueue,
      functionName: fetchFunctionName(Stack.of(this).stackName),
      reservedConcurrentExecutions: reservedConcurrency.fetch,
    });
    this.refresh = this.function('Refresh', 'refresh', props);
    acknowledge(
      this.refresh,
      'Serverless-LambdaDLQ',
      "Only the changes queue's SQS event source mapping invokes the refresh, synchronously; changes that keep failing go to the changes queue's own dead-letter queue (redrive policy).",
    );
    this.worker = this.function('Worker', 'worker', props, { reservedConcurrentExecutions: reservedConcurrency.worker });
    this.sweeper = this.function('Sweeper', 'sweeper', props);
    this.publisher = this.function('Publisher', 'publisher', props);
    acknowledge(
      this.publisher,
      'Serverless-LambdaDLQ',
      "Only its DynamoDB stream event source mappings invoke the publisher, synchronously; what they give up on goes to their on-failure destination (ChangeEvents' dead-letter queue).",
    );

    acknowledge(
      this.connect,
      'Serverless-LambdaDLQ',
      'Only API Gateway invokes connect, synchronously: errors go back to the caller as JSON, there are no asynchronous events to keep.',
    );
    acknowledge(
      this.webhook,
      'Serverless-LambdaDLQ',
      "Only API Gateway invokes the webhook receiver, synchronously: a failure is Personio's 5xx, and Personio retries the delivery for up to 3 days.",
    );
    acknowledge(
      this.worker,
      'Serverless-LambdaDLQ',
      "Only the SQS event source mapping invokes the worker, synchronously; failed messages go to the import queue's own dead-letter queue (redrive policy).",
    );
    acknowledge(
      this.sweeper,
      'Serverless-LambdaDLQ',
      "The sweeper's events are a constant {} from its schedule: a dead-letter queue would keep copies of nothing, and the next firing (one sweep period later) does the same work. Its errors and throttles are alarmed.",
    );
  }

  get all(): Record<FunctionName, NodejsFunction> {
    return {
      connect: this.connect,
      webhook: this.webhook,
      fetch: this.fetch,
      refresh: this.refresh,
      worker: this.worker,
      publisher: this.publisher,
      sweeper: this.sweeper,
    };
  }

  private function(
    id: string,
    name: FunctionName,
    props: ImportFunctionsProps,
    extra: { deadLetterQueue?: Queue; functionName?: string; reservedConcurrentExecutions?: number } = {},
  ): NodejsFunction {
    const settings = functionSettings[name];
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the Personio ${name} function`,
    });
    const logGroup = retainedLogGroup(this, `${id}Logs`, props.logRetention);
    logGroup.grantWrite(role);

    const fn = new NodejsFunction(this, id, {
      entry: fileURLToPath(new URL(`../../functions/${name}.ts`, import.meta.url)),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: fileURLToPath(new URL('../../package-lock.json', import.meta.url)),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      role,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.WARN,
      // Active tracing gives the service map and init/invocation segments without an SDK wrapper in the code.
      tracing: Tracing.ACTIVE,
      ...settings,
      ...extra,
      environment: {
        POWERTOOLS_METRICS_NAMESPACE: importMetrics.namespace,
        POWERTOOLS_SERVICE_NAME: importMetrics.service,
        // Stack traces in the logs point into the TypeScript sources instead of the minified bundle; measured cost
        // ≈ 20-40 ms of init (see infra/README.md).
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.ESM,
        ...bundlingOptions,
        mainFields: [...functionBundling.mainFields],
        // NodejsFunction has no alias option; esbuild's own flag does the same.
        esbuildArgs: Object.fromEntries(Object.entries(alias).map(([from, to]) => [`--alias:${from}`, to])),
        // Bundle the AWS SDK rather than use the runtime's copy: the code runs with exactly the versions the lockfile
        // pins and the tests ran (the runtime's copy changes under us and may lag), and one minified, tree-shaken
        // file loads faster than resolving the runtime's full CommonJS SDK.
        bundleAwsSDK: true,
      },
    });
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).',
    );
    return fn;
  }
}
