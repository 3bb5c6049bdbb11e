import { createServer } from 'node:http';
import { closeServer, listenOn } from '../../local/aws/ports.js';

export interface PersonioFront {
  url: string;
  /** The simulator answers come from; a test points it at a simulator of its own. */
  upstream: string | undefined;
  /** May rewrite an answer's body (undefined: as the simulator sent it). */
  rewrite: ((path: string, body: string) => string | undefined) | undefined;
  close(): Promise<void>;
}

/**
 * The Personio a local environment is pointed at (the deployment's base URL is fixed when the handlers load): it
 * forwards to whichever simulator a test chooses, so every test has a Personio of its own, and can change what
 * Personio answers in ways the simulator does not offer (attribute types, counts).
 */
export async function startPersonioFront(): Promise<PersonioFront> {
  const state: { upstream: string | undefined; rewrite: PersonioFront['rewrite'] } = { upstream: undefined, rewrite: undefined };
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      if (!state.upstream) throw new Error('no simulator behind the front');
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
      const answer = await fetch(`${state.upstream}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) });
      let payload = Buffer.from(await answer.arrayBuffer());
      const path = new URL(req.url ?? '/', 'http://front').pathname;
      const rewritten = answer.ok ? state.rewrite?.(path, payload.toString('utf8')) : undefined;
      if (rewritten !== undefined) payload = Buffer.from(rewritten, 'utf8');
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
  return {
    url: `http://127.0.0.1:${port}`,
    get upstream() {
      return state.upstream;
    },
    set upstream(url) {
      state.upstream = url;
    },
    get rewrite() {
      return state.rewrite;
    },
    set rewrite(fn) {
      state.rewrite = fn;
    },
    close: () => closeServer(server),
  };
}
