import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real local HTTP endpoint for the simulator's webhook deliveries: records every request and answers as told. */

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** How to answer one request: a status, after an optional delay. */
export interface Behaviour {
  status: number;
  delayMs?: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answers for the next requests, in order; once used up, every request gets `fallback`. */
  script(...behaviours: Behaviour[]): void;
  fallback: Behaviour;
  /** Most requests open at once (arrived, not yet answered). */
  maxConcurrent: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const queue: Behaviour[] = [];
  const pending = new Set<NodeJS.Timeout>();
  const receiver: Receiver = {
    url: '',
    received,
    script: (...behaviours) => queue.push(...behaviours),
    fallback: { status: 204 },
    maxConcurrent: 0,
    close: async () => {
      for (const timer of pending) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const answer = (res: ServerResponse, behaviour: Behaviour): void => {
    const reply = (): void => {
      if (!res.destroyed) res.writeHead(behaviour.status).end();
    };
    if (!behaviour.delayMs) {
      reply();
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(timer);
      reply();
    }, behaviour.delayMs);
    pending.add(timer);
  };
  let open = 0;
  const server = createServer((req, res) => {
    open += 1;
    receiver.maxConcurrent = Math.max(receiver.maxConcurrent, open);
    res.once('close', () => {
      open -= 1;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      answer(res, queue.shift() ?? receiver.fallback);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
