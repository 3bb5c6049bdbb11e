import { createServer, type IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../lib/connect/api.js';
import { readBody } from './aws/http.js';
import { closeServer, isAddressInUse, isPortFree, listenOn } from './aws/ports.js';
import { UsageError } from './runner/args.js';
import { startLocalEnvironment, type LocalEnvironment, type PersonioEndpoint } from './runner/environment.js';
import { httpEvent } from './runner/events.js';
import { parseServeArgs, serveUsage as usage } from './runner/serve-args.js';

// Local runs use this machine's Node 20; the deployed functions run on nodejs24.x, where the SDK's notice does not apply.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

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

/**
 * An HTTP API (payload 2.0) event, as API Gateway builds it from the request. Nothing is signed locally, so every
 * request comes from the local caller role (the local stage's only allowed caller); the headers are the request's
 * own, so a change names its admin in X-Dado-Actor as it must in production.
 */
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
  const args = parseServeArgs(process.argv.slice(2));
  if (args.help) {
    console.log(usage);
    return;
  }
  let env: LocalEnvironment<PersonioEndpoint> | undefined;
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
            : env
              ? await env.handlers.connect(toEvent(req, body))
              : {
                  statusCode: 503,
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ error: { code: 'starting', message: 'The local stack is still starting.' } }),
                };
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
  if (!(await isPortFree(args.webhookPort, '127.0.0.1')))
    throw new UsageError(`Port ${args.webhookPort} (the webhook route) is already in use: choose another with --webhook-port.`);
  const common = {
    logLevel: args.verbose ? 'INFO' : 'WARN',
    workerConcurrency: 4,
    webhooks: { port: args.webhookPort },
    changeEvents: true,
    ...(args.events ? { eventsFile: resolve(args.events) } : {}),
  };
  env =
    args.personioUrl !== undefined
      ? await startLocalEnvironment({ ...common, personio: { url: args.personioUrl } })
      : await startLocalEnvironment({ ...common, simulator: { employees: args.employees, credentials: [args.simulatorCredential] } });
  env.eventSource.start();
  try {
    await listenOn(server, args.port, '127.0.0.1');
  } catch (error) {
    await env.stop();
    if (isAddressInUse(error)) throw new UsageError(`Port ${args.port} is already in use: choose another with --port.`);
    throw error;
  }
  if (env.sim) {
    // The default credential is the simulator's documented one; one the user chose is theirs, and never printed.
    const { clientId, clientSecret } = args.simulatorCredential;
    const credential = args.defaultCredential ? `Client ID ${clientId}, Client Secret ${clientSecret}` : `Client ID ${clientId}, the Client Secret you gave`;
    process.stdout.write(`Personio simulator at ${env.sim.url} (${args.employees} employees; ${credential})\n`);
  } else {
    process.stdout.write(`Personio at ${env.personio.url}: connect with its Client ID and Secret in the body of PUT /tenants/{tenantId}/personio\n`);
  }
  process.stdout.write(`Webhook route listening on ${env.webhookServer?.url}{tenantId}: connect registers it with Personio\n`);
  if (args.events) process.stdout.write(`Change events are written to ${args.events}, one JSON line each\n`);
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
