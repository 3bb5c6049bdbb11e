import { createServer, type IncomingMessage } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../lib/connect/api.js';
import { readBody } from './aws/http.js';
import { closeServer, isAddressInUse, isPortFree, listenOn } from './aws/ports.js';
import { DEFAULT_SIM_CREDENTIAL } from './personio-sim/index.js';
import { parseFlags, UsageError, wholeNumber } from './runner/args.js';
import { startLocalEnvironment, type LocalEnvironment } from './runner/environment.js';
import { httpEvent } from './runner/events.js';

// Local runs use this machine's Node 20; the deployed functions run on nodejs24.x, where the SDK's notice does not apply.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const usage = `Usage: npm run serve -- [options]

Serves the connect API on the local stack (DynamoDB Local, SQS, the Secrets Manager, Scheduler and Lambda
stand-ins) and the Personio simulator, through the real connect handler. "Import now" really imports: the
fetch and the worker run in this process. No IAM auth locally; routes, validation and errors are the
deployed API's. The simulator accepts ${DEFAULT_SIM_CREDENTIAL.clientId} / ${DEFAULT_SIM_CREDENTIAL.clientSecret}.

  --port P         port of the API on 127.0.0.1 (default 3000)
  --employees N    employees in the simulator (default 200)
  --verbose        show the handlers' log lines
  --help           this text`;

function parse(argv: string[]): { port: number; employees: number; verbose: boolean; help: boolean } {
  const values = parseFlags(argv, { port: { type: 'string' }, employees: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean' } });
  return {
    port: wholeNumber('port', values.port, 3000, 1, 65_535),
    employees: wholeNumber('employees', values.employees, 200, 1, 200_000),
    verbose: values.verbose ?? false,
    help: values.help ?? false,
  };
}

/** Thrown by readBody past the limit: the request is answered 413 without reaching the handler. */
class BodyTooLarge extends Error {}

/** Reads at most `limit` bytes; more is refused before the handler sees it (it refuses above 16 KiB itself). */
async function readRequestBody(req: IncomingMessage, limit: number): Promise<string | null> {
  try {
    return await readBody(req, limit, () => new BodyTooLarge());
  } catch (error) {
    if (error instanceof BodyTooLarge) return null;
    throw error;
  }
}

/** An HTTP API (payload 2.0) event, as API Gateway builds it from the request. */
function toEvent(req: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const event = httpEvent(req.method ?? 'GET', rawPath, body === '' ? undefined : body);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  return {
    ...event,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
  };
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  if (args.help) {
    console.log(usage);
    return;
  }
  let env: LocalEnvironment | undefined;
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const body = await readRequestBody(req, 1024 * 1024);
        const result =
          body === null
            ? {
                statusCode: 413,
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ error: { code: 'body_too_large', message: `The body is larger than ${MAX_BODY_BYTES} bytes.` } }),
              }
            : await env!.handlers.connect(toEvent(req, body));
        res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
        res.end(result.body);
      } catch (error) {
        // The handler answers its own errors; this is the local server failing.
        process.stderr.write(`serve: ${error instanceof Error ? error.message : String(error)}\n`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'internal_error', message: 'The local server failed; see its output.' } }));
      }
    })();
  });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) =>
    (stopping ??= (async () => {
      process.stdout.write(`${signal}: stopping the API and the local stack…\n`);
      await closeServer(server);
      await env?.stop();
      process.exit(0);
    })());
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  // Checked before the stack starts (seconds), so a taken port fails at once.
  if (!(await isPortFree(args.port, '127.0.0.1'))) throw new UsageError(`Port ${args.port} is already in use: choose another with --port.`);
  env = await startLocalEnvironment({ simulator: { employees: args.employees }, logLevel: args.verbose ? 'INFO' : 'WARN', workerConcurrency: 4 });
  env.eventSource.start();
  try {
    await listenOn(server, args.port, '127.0.0.1');
  } catch (error) {
    await env.stop();
    if (isAddressInUse(error)) throw new UsageError(`Port ${args.port} is already in use: choose another with --port.`);
    throw error;
  }
  process.stdout.write(
    `Personio simulator at ${env.personio.url} (${args.employees} employees; Client ID ${env.personio.clientId}, Client Secret ${env.personio.clientSecret})\n`,
  );
  process.stdout.write(`API listening on http://127.0.0.1:${args.port}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  console.error(`npm run serve failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
