import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ApiError } from './http.js';
import { closeServer, listenOn } from './ports.js';

/**
 * The HTTP server under each AWS stand-in. The stand-ins differ only in how they answer a request and how their
 * service spells an error on the wire; the rest (error capture, binding, closing) is the same and lives here.
 */

export interface StandInServerOptions {
  /** 0 picks a free port. */
  port: number;
  host: string;
  /** Answers one request; an ApiError it throws is answered as the service would. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Writes an error in the service's own wire format. */
  sendError(res: ServerResponse, error: ApiError): void;
  /** The service's answer when the stand-in itself fails. */
  internalError: ApiError;
}

export interface StandInServer {
  port: number;
  /** Idempotent: every call returns the same promise. */
  close(): Promise<void>;
}

/** Rejects with the bind error (EADDRINUSE for a port in use), which the stack turns into `port_in_use`. */
export async function startStandInServer(opts: StandInServerOptions): Promise<StandInServer> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        await opts.handle(req, res);
      } catch (error) {
        // A handler that failed after it began answering cannot start a second answer.
        if (res.headersSent) return;
        // An unexpected failure's message could hold request data, so it is never echoed.
        opts.sendError(res, error instanceof ApiError ? error : opts.internalError);
      }
    })();
  });

  const port = await listenOn(server, opts.port, opts.host);
  let closing: Promise<void> | undefined;
  return { port, close: () => (closing ??= closeServer(server)) };
}
