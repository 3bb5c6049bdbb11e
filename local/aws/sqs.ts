import { createServer } from 'node:http';
import { createRequestHandler } from 'local-aws-sqs';
import { closeServer, listenOn } from './ports.js';

/**
 * `local-aws-sqs` in-process. Its createSqsServer() never rejects when the port is taken (the server
 * emits an unhandled 'error' instead, which crashes the process), so the request handler is mounted on
 * our own server and the listen error is surfaced as a rejection.
 */

export interface LocalSqs {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startSqs(opts: { port?: number; region: string; accountId: string }): Promise<LocalSqs> {
  const host = '127.0.0.1';
  const { service, requestHandler } = createRequestHandler({
    port: opts.port ?? 0,
    hostname: host,
    // The ARN region is cosmetic but product code compares ARNs, so it must be the stack's region.
    region: opts.region,
    accountId: opts.accountId,
    // Tests delete and re-create queues by name; AWS's 60 s wait would only slow them down.
    emulateQueueCreationLifecycle: false,
  });
  const server = createServer((req, res) => void requestHandler(req, res));
  const port = await listenOn(server, opts.port ?? 0, host);
  // Queue URLs are built from this field; with port 0 it is only known after listen.
  service.PORT = port;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      (closing ??= (async () => {
        // Drops in-flight messages and their visibility timers along with the queues.
        service.resetAll();
        await closeServer(server);
      })()),
  };
}
