import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID } from '../aws/identity.js';

/** The webhook function's handler (functions/webhook.ts), or anything shaped like it. */
export type WebhookHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface WebhookServer {
  /** Listens on 127.0.0.1 (`port` 0 or none: any free port); resolves with `url`. */
  start(port?: number): Promise<string>;
  /** The base URL deliveries go to, as connect registers it: `http://127.0.0.1:<port>/webhooks/personio/` + tenant id. */
  readonly url: string;
  close(): Promise<void>;
}

const ROUTE = /^\/webhooks\/personio\/([^/]+)$/;
/** API Gateway's own limit on an HTTP API request (10 MB); the receiver's 64 KiB limit is the function's business. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;
/** What HTTP APIs pass as text; any other content type reaches the function base64-encoded. */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+json)/i;

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)), 'apigw-requestid': randomUUID() });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > GATEWAY_MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The HTTP API's payload 2.0 event for a request on the public route (no authorizer: the token is the authentication). */
export function webhookEvent(
  method: string,
  path: string,
  query: string,
  headers: IncomingMessage['headers'],
  body: Buffer,
  tenantId: string,
): APIGatewayProxyEventV2 {
  const flat: Record<string, string> = {};
  // Node lower-cases names, as API Gateway does; repeated headers are joined with commas, as API Gateway does.
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(',') : value;
  const binary = !TEXT_TYPES.test(flat['content-type'] ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/personio/{tenantId}',
    rawPath: path,
    rawQueryString: query,
    headers: flat,
    pathParameters: { tenantId },
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local-webhooks',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: flat['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: 'POST /webhooks/personio/{tenantId}',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: binary ? body.toString('base64') : body.toString('utf8') } : {}),
    isBase64Encoded: body.length > 0 && binary,
  };
}

/**
 * The public webhook route of the deployed stack, locally: `POST /webhooks/personio/{tenantId}` becomes the event API
 * Gateway would send the webhook function, and the function's result becomes the answer. Anything else is 404, as an
 * HTTP API answers an unmatched route; a handler that throws is a 500, as API Gateway answers a failed integration.
 */
export function createWebhookServer(handler: WebhookHandler): WebhookServer {
  let server: Server | undefined;
  let base: string | undefined;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = ROUTE.exec(url.pathname);
    if (req.method !== 'POST' || !match) return answer(res, 404, JSON.stringify({ message: 'Not Found' }));
    const body = await readBody(req);
    if (!body) return answer(res, 413, JSON.stringify({ message: 'Request Entity Too Large' }));
    let tenantId: string;
    try {
      tenantId = decodeURIComponent(match[1] ?? '');
    } catch {
      return answer(res, 404, JSON.stringify({ message: 'Not Found' }));
    }
    const event = webhookEvent(req.method, url.pathname, url.search.slice(1), req.headers, body, tenantId);
    let result: APIGatewayProxyStructuredResultV2;
    try {
      result = await handler(event);
    } catch {
      return answer(res, 500, JSON.stringify({ message: 'Internal Server Error' }));
    }
    const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]));
    const text = result.body ?? '';
    answer(res, result.statusCode ?? 200, result.isBase64Encoded ? Buffer.from(text, 'base64').toString('utf8') : text, headers);
  }

  return {
    async start(port = 0) {
      if (base) return base;
      const listening = createServer((req, res) => {
        serve(req, res).catch(() => {
          if (!res.headersSent) answer(res, 500, JSON.stringify({ message: 'Internal Server Error' }));
          else res.destroy();
        });
      });
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, '127.0.0.1', () => {
          listening.off('error', reject);
          resolve();
        });
      });
      server = listening;
      base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/webhooks/personio/`;
      return base;
    },
    get url() {
      if (!base) throw new Error('The webhook server is not started: call start() first.');
      return base;
    },
    async close() {
      const closing = server;
      server = undefined;
      base = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };
}
