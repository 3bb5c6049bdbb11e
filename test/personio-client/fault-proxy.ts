import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP hop in front of the simulator for the answers it cannot give: a 503 with Retry-After, in seconds or as an
 * HTTP date (the simulator puts Retry-After on 429 only). Everything not scripted passes through to the simulator.
 */

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
}

/** One request as it reached the proxy. */
export interface Arrival {
  method: string;
  path: string;
  at: number;
  scripted: boolean;
}

export interface FaultProxy {
  readonly url: string;
  /** Every request that reached the proxy, in order. */
  readonly arrivals: Arrival[];
  /** Answers the next requests to `path` (pathname, no query) with these, one each, before passing any through. */
  script(path: string, ...answers: ScriptedAnswer[]): void;
  /** Forgets scripts and arrivals. */
  reset(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: () => string): Promise<FaultProxy> {
  const scripts = new Map<string, ScriptedAnswer[]>();
  const arrivals: Arrival[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    const answer = scripts.get(path)?.shift();
    arrivals.push({ method: req.method ?? 'GET', path, at: Date.now(), scripted: answer !== undefined });
    if (answer) {
      // Drain the request first, so the client sees an answer rather than a reset connection.
      req.resume();
      req.once('end', () => {
        res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
        res.end(JSON.stringify({ success: false, error: { code: answer.status, message: 'Service Unavailable' } }));
      });
      return;
    }
    const upstream = request(`${target()}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answered) => {
      res.writeHead(answered.statusCode ?? 502, answered.headers);
      answered.pipe(res);
    });
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    script: (path, ...answers) => scripts.set(path, [...(scripts.get(path) ?? []), ...answers]),
    reset: () => {
      scripts.clear();
      arrivals.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
