import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, readBody } from './http.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './identity.js';
import { startStandInServer } from './server.js';

/**
 * A stand-in for AWS Lambda's Invoke API (REST-JSON: `POST /2015-03-31/functions/{FunctionName}/invocations`),
 * so connect's "import now" runs the real `@aws-sdk/client-lambda` unchanged (it only sees
 * AWS_ENDPOINT_URL_LAMBDA). Functions are in-process handlers registered by the local environment.
 *
 * - `X-Amz-Invocation-Type: Event` answers 202 at once and runs the handler in the background, as Lambda's
 *   asynchronous invocation does; a handler that throws is reported through `onFailure` and `failures()`
 *   (Lambda would retry and then send it to the function's on-failure destination).
 * - `RequestResponse` (the default) waits and answers the handler's result; a throw answers 200 with
 *   `X-Amz-Function-Error: Unhandled` and `{errorType, errorMessage}`, as Lambda does.
 * - `DryRun` answers 204.
 * - An unknown function answers 404 ResourceNotFoundException.
 */

export type LocalFunction = (event: unknown) => Promise<unknown>;

export interface LambdaFailure {
  functionName: string;
  error: unknown;
  at: Date;
}

export interface LambdaStandIn {
  url: string;
  port: number;
  register(functionName: string, handler: LocalFunction): void;
  /** Resolves once no asynchronous invocation is running (also those started while waiting). */
  idle(): Promise<void>;
  /** Asynchronous invocations whose handler threw. */
  failures(): LambdaFailure[];
  calls(): Record<string, number>;
  close(): Promise<void>;
}

export interface LambdaOptions {
  port?: number;
  host?: string;
  region?: string;
  accountId?: string;
  onFailure?: (failure: LambdaFailure) => void;
}

const MAX_ASYNC_PAYLOAD = 256 * 1024;
const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: string | undefined, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'x-amzn-RequestId': randomUUID(),
    ...(body !== undefined && { 'Content-Length': String(Buffer.byteLength(body)) }),
    ...headers,
  });
  res.end(body);
}

export async function startLambda(opts: LambdaOptions = {}): Promise<LambdaStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const region = opts.region ?? LOCAL_REGION;
  const accountId = opts.accountId ?? LOCAL_ACCOUNT_ID;
  const functions = new Map<string, LocalFunction>();
  const running = new Set<Promise<void>>();
  const failed: LambdaFailure[] = [];
  const counts: Record<string, number> = {};
  let closed = false;

  /** A name, a full ARN or a partial ARN (`account:function:name`), as Invoke accepts. */
  const resolve = (id: string): string => {
    const arn = /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?([A-Za-z0-9_-]{1,64})(?::(\$LATEST|[A-Za-z0-9_-]+))?$/.exec(id);
    return arn?.[1] ?? id;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const limit = type === 'Event' ? MAX_ASYNC_PAYLOAD : MAX_SYNC_PAYLOAD;
    const text = await readBody(
      req,
      limit,
      () => new ApiError(413, 'RequestTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`),
    );
    if (req.method !== 'POST' || !match)
      throw new ApiError(404, 'UnknownOperationException', `No operation at ${req.method} ${url.pathname} in the local Lambda.`);
    counts['Invoke'] = (counts['Invoke'] ?? 0) + 1;
    const name = resolve(decodeURIComponent(match[1] ?? ''));
    const handler = functions.get(name);
    if (!handler) throw new ApiError(404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${region}:${accountId}:function:${name}`);
    let event: unknown;
    try {
      event = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError(400, 'InvalidRequestContentException', 'Could not parse request body into json: Could not parse payload into json');
    }
    if (type === 'DryRun') return send(res, 204, undefined);
    if (type === 'Event') {
      const run: Promise<void> = (async () => {
        // Lambda answers before the function starts.
        await new Promise((r) => setImmediate(r));
        try {
          await handler(event);
        } catch (error) {
          const failure = { functionName: name, error, at: new Date() };
          if (closed) return;
          failed.push(failure);
          opts.onFailure?.(failure);
        }
      })().finally(() => running.delete(run));
      running.add(run);
      return send(res, 202, undefined);
    }
    if (type !== 'RequestResponse') throw new ApiError(400, 'InvalidParameterValueException', `Unsupported invocation type ${type}.`);
    try {
      const result = await handler(event);
      return send(res, 200, JSON.stringify(result ?? null), { 'X-Amz-Executed-Version': '$LATEST' });
    } catch (error) {
      const body = { errorType: error instanceof Error ? error.name : 'Error', errorMessage: error instanceof Error ? error.message : String(error) };
      return send(res, 200, JSON.stringify(body), { 'X-Amz-Executed-Version': '$LATEST', 'X-Amz-Function-Error': 'Unhandled' });
    }
  };

  const server = await startStandInServer({
    port: opts.port ?? 0,
    host,
    handle,
    sendError: (res, e) =>
      send(res, e.status, JSON.stringify({ Type: e.status >= 500 ? 'Service' : 'User', Message: e.message }), { 'x-amzn-ErrorType': e.type }),
    internalError: new ApiError(500, 'ServiceException', 'An error occurred in the local Lambda.'),
  });
  const idle = async (): Promise<void> => {
    while (running.size > 0) await Promise.allSettled([...running]);
  };
  return {
    url: `http://${host}:${server.port}`,
    port: server.port,
    register: (functionName, handler) => void functions.set(functionName, handler),
    idle,
    failures: () => [...failed],
    calls: () => ({ ...counts }),
    close: () => {
      // Background invocations are not awaited (a fetch can run for minutes); failures after this are not reported.
      closed = true;
      return server.close();
    },
  };
}
