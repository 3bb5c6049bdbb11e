import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOn } from '../../local/aws/ports.js';
import type { PersonioSim } from '../../local/personio-sim/index.js';
import { INVOCATION_HEADER } from './invocations.js';

/**
 * One Personio URL for the whole process (the handlers read PERSONIO_BASE_URL once, at module load) in front of a
 * simulator per sequence: a request goes to the simulator of its credential (`/v1/auth` by its client_id, every
 * other call by the token that simulator minted). So each sequence has its own employees, knobs and rate limits.
 *
 * A gate per simulator holds the fetch's list pages (`limit=100`; connect's checks and previews ask for less) while it
 * is closed, so a test can stop a fetch in the middle of its run and change Personio, start another import, kill
 * the fetch or jump the clock before letting it go on.
 */
export class PersonioRouter {
  private readonly byClient = new Map<string, Route>();
  private readonly byToken = new Map<string, Route>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private port = 0;

  static async start(): Promise<PersonioRouter> {
    const router = new PersonioRouter();
    router.port = await listenOn(router.server, 0, '127.0.0.1');
    return router;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Routes this credential's calls to `sim`; answers the simulator's gate. */
  add(clientId: string, sim: PersonioSim): Gate {
    const route: Route = { sim, gate: new Gate() };
    this.byClient.set(clientId, route);
    return route.gate;
  }

  remove(clientId: string): void {
    const route = this.byClient.get(clientId);
    if (!route) return;
    route.gate.dropAll();
    this.byClient.delete(clientId);
    for (const [token, r] of this.byToken) if (r === route) this.byToken.delete(token);
  }

  async close(): Promise<void> {
    for (const route of this.byClient.values()) route.gate.dropAll();
    this.server.closeAllConnections();
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://router.invalid');
      const route = url.pathname === '/v1/auth' ? this.byClient.get(clientIdOf(body.toString('utf8'), url) ?? '') : this.byToken.get(bearerOf(req) ?? '');
      if (!route) {
        // As Personio answers a credential or token it does not know.
        send(res, url.pathname === '/v1/auth' ? 401 : 403, { success: false, error: { code: 0, message: 'Unknown credential (lifecycle router)' } });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/v1/company/employees' && url.searchParams.get('limit') === '100') {
        if (!(await route.gate.pass(Number(req.headers[INVOCATION_HEADER] ?? 0)))) {
          res.destroy();
          return;
        }
      }
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string' && !HOP_BY_HOP.has(key)) headers[key] = value;
      const answer = await fetch(`${route.sim.url}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body.length > 0 ? { body } : {}) });
      const payload = Buffer.from(await answer.arrayBuffer());
      if (url.pathname === '/v1/auth' && answer.status === 200) {
        const token = (JSON.parse(payload.toString('utf8')) as { data?: { token?: string } }).data?.token;
        if (token) this.byToken.set(token, route);
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((value, key) => {
        if (!HOP_BY_HOP.has(key) && key !== 'content-encoding') out[key] = value;
      });
      res.writeHead(answer.status, out);
      res.end(payload);
    } catch {
      if (!res.headersSent) send(res, 502, { success: false, error: { code: 0, message: 'lifecycle router: simulator unreachable' } });
      else res.destroy();
    }
  }
}

interface Route {
  sim: PersonioSim;
  gate: Gate;
}

/** Holds list pages while closed; a held request goes on when the gate opens, or is dropped (its caller was killed). */
export class Gate {
  private closed = false;
  private held: { invocation: number; go: (pass: boolean) => void }[] = [];
  private waiters: (() => void)[] = [];

  get isClosed(): boolean {
    return this.closed;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** The invocations (Lambda invocation ids) whose page is held now. */
  heldFor(): Set<number> {
    return new Set(this.held.map((h) => h.invocation));
  }

  close(): void {
    this.closed = true;
  }

  /** Opens the gate and lets every held request go on. */
  open(): void {
    this.closed = false;
    const held = this.held;
    this.held = [];
    for (const h of held) h.go(true);
  }

  /** Drops every held request (the connection is cut); the gate stays as it is. */
  dropAll(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) h.go(false);
  }

  /** Resolves once `count` requests are held (or after `timeoutMs` of real time, answering false). */
  async waitHeld(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.held.length < count) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** Called per gated request (of this invocation, 0 when unknown): true to go on, false when dropped. */
  pass(invocation = 0): Promise<boolean> {
    if (!this.closed) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      this.held.push({ invocation, go: resolve });
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
  }
}

const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', INVOCATION_HEADER]);

function clientIdOf(body: string, url: URL): string | undefined {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { client_id?: unknown };
      if (typeof parsed.client_id === 'string') return parsed.client_id;
    } catch {
      // fall through to the form and the query
    }
  }
  return new URLSearchParams(text).get('client_id') ?? url.searchParams.get('client_id') ?? undefined;
}

function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}
