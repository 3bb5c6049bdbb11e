import { createServer } from 'node:http';
import { closeServer, listenOn } from '../../local/aws/ports.js';

export interface ProxyHooks {
  /** May replace a request's body before it goes on (undefined: no body). */
  request?: (method: string, url: URL, body: string | undefined) => string | undefined;
  /** May replace an answer's body before it comes back (undefined: as the simulator sent it). */
  response?: (method: string, url: URL, status: number, body: string) => string | undefined;
}

/**
 * An HTTP proxy in front of the simulator that lets a test change requests and answers on their way. `simUrl` may be
 * a function: the simulator is then looked up for every request (none answers 502), as test/helpers/personio-front.ts
 * does.
 */
export async function startPersonioProxy(simUrl: string | (() => string | undefined), hooks: ProxyHooks): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = typeof simUrl === 'string' ? () => simUrl : simUrl;
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const target = upstream();
      if (!target) throw new Error('no simulator behind the proxy');
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://proxy');
      const received = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const body = hooks.request ? hooks.request(method, url, received?.toString('utf8')) : received;
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)),
      ) as Record<string, string>;
      const answer = await fetch(`${target}${req.url ?? '/'}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      let payload = Buffer.from(await answer.arrayBuffer());
      const replaced = hooks.response?.(method, url, answer.status, payload.toString('utf8'));
      if (replaced !== undefined) payload = Buffer.from(replaced, 'utf8');
      const out: Record<string, string> = {};
      answer.headers.forEach((value, key) => {
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(key)) out[key] = value;
      });
      res.writeHead(answer.status, out);
      res.end(payload);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  const port = await listenOn(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}
