/**
 * The deployed bundles as the local runner's handlers: `buildFunctionBundles` builds them (byte-identical to what
 * `cdk synth` deploys), each runs in a fresh Node process (test/helpers/bundle-host.mjs) with the environment Lambda
 * would give it, and the handlers handed to `startLocalEnvironment({ loadHandlers })` forward each invocation over IPC.
 *
 * Each function is a small pool of such processes, like Lambda's execution environments: one invocation at a time per
 * process, a new process (a cold start) when all are busy, a process kept warm for the next invocation otherwise.
 *
 * The environment of a process, for function F:
 * - every variable the synthesized stack sets on F (read from the template, as test/infra/stack.test.ts does), with
 *   the value the local environment computed for that name (tables, queue URL, Personio URL...), or else the
 *   template's own literal (NODE_OPTIONS=--enable-source-maps, POWERTOOLS_SERVICE_NAME, DEACTIVATION_THRESHOLD...);
 *   a variable the template fills in at deploy time (a Ref) that the local environment lacks fails the start;
 * - what the Lambda runtime adds: region, the role's credentials (dummy; the only credentials the bundles can use),
 *   function name, version and memory size, initialization type, log group, log level and format (the template's
 *   LoggingConfig), execution environment (its Runtime), TZ, LANG, PATH;
 * - the local stack's AWS_ENDPOINT_URL_* and AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED (the test machine runs
 *   Node 20, Lambda 24).
 * Nothing is inherited from the test process (no AWS_PROFILE, HOME, POWERTOOLS_* of vitest's config).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { APIGatewayProxyStructuredResultV2, Context, DynamoDBBatchResponse, SQSBatchResponse } from 'aws-lambda';
import { functionNames, type FunctionName } from '../../infra/bundling.js';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFunctionBundles } from '../../infra/measure-bundles.js';
import { PersonioImportStack } from '../../infra/stack.js';
import type { FetchOutcome } from '../../lib/fetch/run-fetch.js';
import type { SweepOutcome } from '../../lib/runs/sweep.js';
import { LOCAL_ACCOUNT_ID } from '../../local/aws/identity.js';
import { type Handlers, localNames } from '../../local/runner/environment.js';

const hostScript = fileURLToPath(new URL('./bundle-host.mjs', import.meta.url));

/** What bundle-host.mjs writes to stderr before Node reports an uncaught exception or unhandled rejection. */
export const UNCAUGHT_MARKER = '[bundle-host] uncaught';

/** A function as the synthesized template deploys it. */
export interface DeployedFunction {
  /** Its environment variables: a literal string, or a CloudFormation reference resolved at deploy time. */
  variables: Record<string, unknown>;
  memorySize: number;
  /** e.g. nodejs24.x */
  runtime: string;
  timeoutSeconds: number;
  /** LoggingConfig.ApplicationLogLevel (Lambda passes it as AWS_LAMBDA_LOG_LEVEL). */
  applicationLogLevel: string;
  logFormat: string;
}

/**
 * Synthesizes the stack as `cdk synth` does (cdk.json's context) but without bundling (the bundles come from
 * buildFunctionBundles, the same build), and reads each function's settings from the template.
 */
export function synthesizedFunctions(outdir: string): Record<FunctionName, DeployedFunction> {
  const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
  const config = parseDeploymentConfig(context);
  const app = new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new PersonioImportStack(app, config.stackName, { config });
  const template = app.synth().getStackArtifact(stack.artifactId).template as { Resources: Record<string, { Properties: Record<string, unknown> }> };
  const functions = {} as Record<FunctionName, DeployedFunction>;
  for (const name of functionNames) {
    const id = stack.resolve((stack.functions[name].node.defaultChild as CfnElement).logicalId) as string;
    const properties = template.Resources[id]?.Properties;
    if (!properties) throw new Error(`The template has no function ${id} (${name})`);
    const logging = properties['LoggingConfig'] as { ApplicationLogLevel?: string; LogFormat?: string } | undefined;
    functions[name] = {
      variables: (properties['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
      memorySize: properties['MemorySize'] as number,
      runtime: properties['Runtime'] as string,
      timeoutSeconds: properties['Timeout'] as number,
      applicationLogLevel: logging?.ApplicationLogLevel ?? 'INFO',
      logFormat: logging?.LogFormat ?? 'Text',
    };
  }
  return functions;
}

/** The local function name (the Lambda stand-in knows the fetch by this name). */
export const localFunctionName = (name: FunctionName): string => (name === 'fetch' ? localNames.fetchFunction : `dado-personio-${name}`);

/** Dummy role credentials, in the variables Lambda sets (the local services accept any). */
const roleCredentials = {
  AWS_ACCESS_KEY_ID: 'ASIALOCALBUNDLEDTEST',
  AWS_SECRET_ACCESS_KEY: 'local-bundled-test-secret-access-key',
  AWS_SESSION_TOKEN: 'local-bundled-test-session-token',
};

/** The environment of function `name`'s process (see the top of this file). */
export function lambdaEnvironment(name: FunctionName, deployed: DeployedFunction, local: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [variable, value] of Object.entries(deployed.variables)) {
    const localValue = local[variable];
    if (localValue !== undefined) env[variable] = localValue;
    else if (typeof value === 'string') env[variable] = value;
    else
      throw new Error(
        `The deployed ${name} function gets ${variable} (${JSON.stringify(value)} at deploy time), but the local environment has no value for it: add it to startLocalEnvironment`,
      );
  }
  const region = local['AWS_REGION'];
  if (!region) throw new Error('The local environment has no AWS_REGION');
  Object.assign(env, {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    ...roleCredentials,
    AWS_LAMBDA_FUNCTION_NAME: localFunctionName(name),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memorySize),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${localFunctionName(name)}`,
    AWS_LAMBDA_LOG_STREAM_NAME: 'local',
    AWS_EXECUTION_ENV: `AWS_Lambda_${deployed.runtime}`,
    AWS_LAMBDA_LOG_LEVEL: deployed.applicationLogLevel,
    AWS_LAMBDA_LOG_FORMAT: deployed.logFormat,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin:/bin',
  });
  for (const [variable, value] of Object.entries(local)) if (variable.startsWith('AWS_ENDPOINT_URL_')) env[variable] = value;
  env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  return env;
}

// ---- one process -----------------------------------------------------------------------------------------------

/** What crosses the channel of a Lambda Context: its serializable fields, and the milliseconds left. */
export interface InvocationContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  remainingMs: number;
}

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

type HostMessage =
  | { type: 'ready'; initMs: number; environment: string[]; sourceMaps: boolean }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; ok: true; result?: unknown }
  | { type: 'result'; id: number; ok: false; error: SerializedError };

const reviveError = (e: SerializedError): Error =>
  Object.assign(new Error(e.message), { name: e.name, ...(e.stack ? { stack: e.stack } : {}), ...(e.code ? { code: e.code } : {}) });

/** Output kept per process, for the assertions (bounded: a runaway log must not exhaust the test's memory). */
const MAX_OUTPUT_CHARS = 4_000_000;
const READY_TIMEOUT_MS = 20_000;

/** One execution environment: a Node process that imported the bundle and answers invocations one at a time. */
export class BundleProcess {
  stdout = '';
  stderr = '';
  /** Invocations sent to this process. */
  invocations = 0;
  /** Set once the process has exited: by stop(), or unexpectedly (a crash). */
  exit: { code: number | null; signal: NodeJS.Signals | null; expected: boolean } | undefined;
  /** From the host's ready message: the names of the variables the process started with, its init time, source maps on. */
  ready: { initMs: number; environment: string[]; sourceMaps: boolean } | undefined;
  private stopping = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: FunctionName,
    readonly env: Record<string, string>,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stdout.length < MAX_OUTPUT_CHARS) this.stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < MAX_OUTPUT_CHARS) this.stderr += chunk;
    });
    // A failure to fork or to use the channel; the exit that follows (if any) rejects what is pending.
    child.on('error', (error) => {
      this.stderr += `[bundled-handlers] ${error.name}: ${error.message}\n`;
    });
    child.on('message', (message: HostMessage) => {
      if (message.type !== 'result') return;
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.result);
      else waiting?.reject(reviveError(message.error));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, expected: this.stopping };
        const error = new Error(
          `The ${name} bundle's process exited (${signal ?? `code ${code}`}) during an invocation. Its stderr:\n${this.stderr.slice(-2_000)}`,
        );
        for (const waiting of this.pending.values()) waiting.reject(error);
        this.pending.clear();
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === undefined && !this.stopping;
  }

  /**
   * Forks the host with exactly `env`, hands the process to `track` at once (so whoever stops everything also stops a
   * process still starting), and waits until the bundle is imported (its init ran).
   */
  static async start(name: FunctionName, file: string, env: Record<string, string>, track: (host: BundleProcess) => void): Promise<BundleProcess> {
    const child = fork(hostScript, [file], {
      env,
      // Not the test process's flags (vitest's, tsx's loader): a bare Node, as on Lambda; NODE_OPTIONS comes from env.
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const host = new BundleProcess(name, env, child);
    track(host);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`The ${name} bundle was not ready within ${READY_TIMEOUT_MS} ms. Its stderr:\n${host.stderr}`)),
          READY_TIMEOUT_MS,
        );
        const done = (error?: Error) => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          child.off('error', onError);
          if (error) reject(error);
          else resolve();
        };
        const onMessage = (message: HostMessage) => {
          if (message.type === 'ready') {
            host.ready = { initMs: message.initMs, environment: message.environment, sourceMaps: message.sourceMaps };
            done();
          } else if (message.type === 'init-error') {
            const error = reviveError(message.error);
            done(Object.assign(new Error(`The ${name} bundle failed to load: ${error.name}: ${error.message}`, { cause: error })));
          }
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
          done(new Error(`The ${name} bundle's process exited (${signal ?? `code ${code}`}) before it was ready. Its stderr:\n${host.stderr}`));
        const onError = (error: Error) => done(error);
        child.on('message', onMessage);
        child.on('exit', onExit);
        child.on('error', onError);
      });
    } catch (error) {
      await host.stop();
      throw error;
    }
    return host;
  }

  /** One invocation: the event, and the context's fields with the milliseconds it has left. */
  invoke(event: unknown, context: InvocationContext): Promise<unknown> {
    if (!this.alive) return Promise.reject(new Error(`The ${this.name} bundle's process is not running`));
    const id = this.nextId++;
    this.invocations++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ type: 'invoke', id, event, context }, (error) => {
        if (!error) return;
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  /** Ends the process (SIGTERM, then SIGKILL after 3 s) and waits until it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exit) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(killer);
  }

  /** Kills at once, synchronously (the test process is exiting). */
  killNow(): void {
    this.stopping = true;
    if (!this.exit) this.child.kill('SIGKILL');
  }
}

// ---- the functions ---------------------------------------------------------------------------------------------

/** The execution environments of one function. */
class FunctionPool {
  private readonly idle: BundleProcess[] = [];

  constructor(
    readonly name: FunctionName,
    readonly file: string,
    readonly env: Record<string, string>,
    private readonly spawned: BundleProcess[],
    private readonly isStopped: () => boolean,
  ) {}

  async start(): Promise<BundleProcess> {
    if (this.isStopped()) throw new Error(`The bundled functions are stopped; ${this.name} cannot start`);
    return BundleProcess.start(this.name, this.file, this.env, (host) => this.spawned.push(host));
  }

  /**
   * A warm process if one is idle, else a new one (its init does not count against the invocation's time, as on
   * Lambda: the context is made once the process is ready); given back afterwards unless it died.
   */
  async invoke(event: unknown, context: () => InvocationContext): Promise<unknown> {
    let host = this.idle.pop();
    while (host && !host.alive) host = this.idle.pop();
    host ??= await this.start();
    try {
      return await host.invoke(event, context());
    } finally {
      if (host.alive) this.idle.push(host);
    }
  }

  /** The first process, started eagerly so a bundle that cannot load fails the environment's start. */
  warm(host: BundleProcess): void {
    this.idle.push(host);
  }
}

export class BundledFunctions {
  /** Every process started (each knows its function), alive or not: for the assertions and for stop(). */
  readonly processes: BundleProcess[] = [];
  private readonly pools = new Map<FunctionName, FunctionPool>();
  private dir: string | undefined;
  private stopped = false;
  private prepared: Promise<{ bundles: Record<FunctionName, { file: string }>; deployed: Record<FunctionName, DeployedFunction> }> | undefined;
  private readonly onExit = () => {
    for (const host of this.processes) host.killNow();
  };

  constructor() {
    // Should the test process exit without stop(), no bundle process outlives it.
    process.on('exit', this.onExit);
  }

  /**
   * Builds the bundles and synthesizes the stack (into a temp dir); called by loadHandlers if not before. Calling it
   * early lets it run while the local stack starts.
   */
  prepare(): Promise<{ bundles: Record<FunctionName, { file: string }>; deployed: Record<FunctionName, DeployedFunction> }> {
    this.prepared ??= (async () => {
      this.dir = await mkdtemp(join(tmpdir(), 'dado-bundled-'));
      const bundles = await buildFunctionBundles(join(this.dir, 'bundles'));
      const deployed = synthesizedFunctions(join(this.dir, 'cdk.out'));
      return { bundles, deployed };
    })();
    return this.prepared;
  }

  /** For startLocalEnvironment: one process per function, started at once, behind handlers that forward over IPC. */
  readonly loadHandlers = async (local: Record<string, string>): Promise<Handlers> => {
    const { bundles, deployed } = await this.prepare();
    for (const name of functionNames) {
      const env = lambdaEnvironment(name, deployed[name], local);
      this.pools.set(name, new FunctionPool(name, bundles[name].file, env, this.processes, () => this.stopped));
    }
    const started = await Promise.allSettled(functionNames.map(async (name) => this.pool(name).warm(await this.pool(name).start())));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;

    /**
     * The context Lambda gives function `name`: its own name, ARN and memory; the request id and time left of the
     * caller's context where there is one (the runner's fetch and worker contexts), else the deployed timeout.
     */
    const contextOf = (name: FunctionName, given?: Context) => (): InvocationContext => {
      const functionName = localFunctionName(name);
      return {
        functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn: `arn:aws:lambda:${local['AWS_REGION']}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
        memoryLimitInMB: String(deployed[name].memorySize),
        awsRequestId: given?.awsRequestId ?? randomUUID(),
        logGroupName: `/aws/lambda/${functionName}`,
        logStreamName: 'local',
        remainingMs: given ? given.getRemainingTimeInMillis() : deployed[name].timeoutSeconds * 1000,
      };
    };
    return {
      connect: async (event) => (await this.pool('connect').invoke(event, contextOf('connect'))) as APIGatewayProxyStructuredResultV2,
      fetch: async (event, context) => (await this.pool('fetch').invoke(event, contextOf('fetch', context))) as FetchOutcome,
      worker: async (event, context) => (await this.pool('worker').invoke(event, contextOf('worker', context))) as SQSBatchResponse | undefined,
      // The sweep schedule sends a constant {}.
      sweeper: async () => (await this.pool('sweeper').invoke({}, contextOf('sweeper'))) as SweepOutcome,
      webhook: async (event) => (await this.pool('webhook').invoke(event, contextOf('webhook'))) as APIGatewayProxyStructuredResultV2,
      refresh: async (event, context) => (await this.pool('refresh').invoke(event, contextOf('refresh', context))) as SQSBatchResponse,
      publisher: async (event, context) => (await this.pool('publisher').invoke(event, contextOf('publisher', context))) as DynamoDBBatchResponse | undefined,
    };
  };

  /** The environment each process of `name` runs with. */
  environmentOf(name: FunctionName): Record<string, string> {
    return this.pool(name).env;
  }

  /** Function `name` as the synthesized template deploys it. */
  async deployedOf(name: FunctionName): Promise<DeployedFunction> {
    return (await this.prepare()).deployed[name];
  }

  /** Ends every process (also those of a failed start) and removes the bundles; safe to call more than once. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.prepared?.catch(() => undefined);
    await Promise.all(this.processes.map((p) => p.stop()));
    process.off('exit', this.onExit);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private pool(name: FunctionName): FunctionPool {
    const pool = this.pools.get(name);
    if (!pool) throw new Error(`The ${name} bundle is not loaded`);
    return pool;
  }
}
