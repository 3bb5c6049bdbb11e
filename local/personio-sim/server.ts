import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody as readLimitedBody } from '../aws/http.js';
import { closeServer, listenOn } from '../aws/ports.js';
import { handleControl } from './control.js';
import { EmployeeGenerator, mulberry32, type Rng } from './data.js';
import { defaultKnobs, mergeKnobs } from './knobs.js';
import { CooldownLimiter, SlidingWindow } from './rate-limit.js';
import { json, replies, type Reply } from './responses.js';
import { EmployeeStore } from './store.js';
import { TokenRegistry } from './tokens.js';
import { recordSimCredentials } from './issued.js';
import { V2Api } from './v2.js';
import { credentialFields, employeesEndpoint, listReply, oneReply } from './v1-endpoints.js';
import { publicWebhook, WebhookRegistry } from './webhook-registry.js';
import { WebhookDispatcher } from './delivery.js';
import { EmployeeEvents } from './employee-events.js';
import type { PersonioSim, SimCredential, SimKnobs, SimOptions, SimStats } from './types.js';

/** The credential a simulator accepts when started without `credentials`. */
export const DEFAULT_SIM_CREDENTIAL: Readonly<SimCredential> = Object.freeze({ clientId: 'sim-client-id', clientSecret: 'sim-client-secret' });
const MAX_BODY_BYTES = 1 << 20;
export const DEFAULT_COMPANY_ID = '10001';

/** Starts a Personio v1 simulator; see types.ts for the contract. */
export async function startPersonioSim(options: SimOptions = {}): Promise<PersonioSim> {
  const sim = new Simulator(options);
  await sim.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sim.api();
}

type Counters = Omit<SimStats, 'cpuMs' | 'webhooks'>;

function zeroCounters(): Counters {
  return {
    requests: 0,
    authCalls: 0,
    tokensIssued: 0,
    employeeListRequests: 0,
    rateLimited: 0,
    byStatus: {},
    maxLimitRequested: 0,
    maxConcurrent: 0,
    v2: { requests: 0, authCalls: 0, tokensIssued: 0, webhookCalls: 0, byStatus: {} },
  };
}

class Simulator {
  private current: SimKnobs;
  private readable: ReadonlySet<string> | null = null;
  private hidden: ReadonlySet<number> = new Set();
  private readonly store: EmployeeStore;
  private readonly credentials: Map<string, { secret: string; webhooks: boolean }>;
  private readonly tokens = new TokenRegistry();
  private readonly v2Tokens = new TokenRegistry();
  private readonly webhookRegistry = new WebhookRegistry();
  private readonly v2: V2Api;
  private readonly companyId: string;
  private readonly dispatcher: WebhookDispatcher;
  private readonly employeeEvents: EmployeeEvents;
  private readonly ipMinute = new SlidingWindow(60_000);
  private readonly credentialMinute = new SlidingWindow(60_000);
  private readonly credentialSecond = new SlidingWindow(1_000);
  private readonly authLimiter = new CooldownLimiter();
  // Separate streams so that turning one knob does not change what another knob's randomness produces.
  private readonly faultRng: Rng;
  private readonly malformedRng: Rng;
  private readonly latencyRng: Rng;
  private counters = zeroCounters();
  private cpuBaseline = process.cpuUsage();
  private inFlight = 0;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly server: Server;
  /** The public API, also driven by the /__sim control endpoints; set once listening. */
  private control: PersonioSim | undefined;
  private port = 0;
  private host = '127.0.0.1';

  constructor(options: SimOptions) {
    const { port: _port, host: _host, employees, seed, extraAttributes, integerAttributes, credentials, companyId, ...knobPatch } = options;
    const accepted = credentials ?? [DEFAULT_SIM_CREDENTIAL];
    this.current = mergeKnobs(defaultKnobs, knobPatch);
    // A credential started without webhook access is the knob's initial entry, so the knob can later grant it.
    const denied = accepted.filter((c) => c.webhooks === false).map((c) => c.clientId);
    this.current.webhooksDeniedClientIds = [...new Set([...this.current.webhooksDeniedClientIds, ...denied])];
    this.companyId = companyId ?? DEFAULT_COMPANY_ID;
    const baseSeed = seed ?? 1;
    this.faultRng = mulberry32(baseSeed ^ 0x5eed_f417);
    this.malformedRng = mulberry32(baseSeed ^ 0x0bad_7e57);
    this.latencyRng = mulberry32(baseSeed ^ 0x1a7e_9c11);
    this.store = new EmployeeStore(new EmployeeGenerator(baseSeed, extraAttributes ?? 0, integerAttributes ?? 0), employees ?? 1000, this.current.strictSpec);
    this.applyKnobs();
    this.credentials = new Map(accepted.map((c) => [c.clientId, { secret: c.clientSecret, webhooks: true }]));
    recordSimCredentials(accepted);
    this.dispatcher = new WebhookDispatcher({
      registry: this.webhookRegistry,
      knobs: () => this.current,
      companyId: this.companyId,
      rng: mulberry32(baseSeed ^ 0x3e6b_00c5),
    });
    this.employeeEvents = new EmployeeEvents(this.store, this.dispatcher);
    this.v2 = new V2Api({
      credentials: this.credentials,
      knobs: () => this.current,
      tokens: this.v2Tokens,
      webhooks: this.webhookRegistry,
      counters: () => this.counters.v2,
      baseUrl: () => this.control?.url ?? '',
    });
    this.server = createServer((req, res) => {
      this.route(req, res).catch(() => {
        // Only an unreadable request body gets here; answer like Personio's own 500.
        if (!res.headersSent) this.send(res, replies.serverFault(0));
      });
    });
  }

  async listen(port: number, host: string): Promise<void> {
    this.port = await listenOn(this.server, port, host);
    this.host = host;
  }

  /** Everything derived from the knobs besides `current` itself. */
  private applyKnobs(): void {
    this.readable = toSet(this.current.readableAttributes);
    this.hidden = new Set(this.current.hiddenEmployeeIds);
    this.store.setStrictSpec(this.current.strictSpec);
  }

  api(): PersonioSim {
    const api: PersonioSim = {
      url: `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`,
      port: this.port,
      stats: () => this.stats(),
      resetStats: () => {
        this.counters = zeroCounters();
        this.dispatcher.resetStats();
        this.cpuBaseline = process.cpuUsage();
      },
      resetRateLimits: () => {
        this.ipMinute.clear();
        this.credentialMinute.clear();
        this.credentialSecond.clear();
        this.authLimiter.clear();
      },
      setKnobs: (patch) => {
        this.current = mergeKnobs(this.current, patch);
        this.tokens.sweep(Date.now(), this.current.tokenTtlSeconds);
        this.v2Tokens.sweep(Date.now(), this.current.tokenTtlSeconds);
        this.applyKnobs();
      },
      knobs: () => ({
        ...this.current,
        readableAttributes: this.current.readableAttributes && [...this.current.readableAttributes],
        hiddenEmployeeIds: [...this.current.hiddenEmployeeIds],
        webhooksDeniedClientIds: [...this.current.webhooksDeniedClientIds],
        webhookRetryDelaysMs: [...this.current.webhookRetryDelaysMs],
      }),
      employees: () => this.store.views(),
      addEmployees: (n) => this.employeeEvents.add(n),
      removeEmployees: (ids) => this.employeeEvents.remove(ids),
      updateEmployee: (id, changes) => this.employeeEvents.update(id, changes),
      terminateEmployee: (id, date) => this.employeeEvents.terminate(id, date),
      revokeTokens: () => {
        this.tokens.revokeAll();
        this.v2Tokens.revokeAll();
      },
      companyId: this.companyId,
      webhooks: () => this.webhookRegistry.list().map(publicWebhook),
      emitWebhookEvent: (eventName, employeeId) => this.employeeEvents.emit(eventName, employeeId),
      webhookDeliveries: () => this.dispatcher.records(),
      clearWebhookDeliveries: () => this.dispatcher.clearRecords(),
      webhooksIdle: () => this.dispatcher.idle(),
      close: () => this.close(),
    };
    this.control = api;
    return api;
  }

  private stats(): SimStats {
    const cpu = process.cpuUsage(this.cpuBaseline);
    return {
      ...this.counters,
      byStatus: { ...this.counters.byStatus },
      v2: { ...this.counters.v2, byStatus: { ...this.counters.v2.byStatus } },
      webhooks: this.dispatcher.stats(),
      cpuMs: Math.round((cpu.user + cpu.system) / 100) / 10,
    };
  }

  private async close(): Promise<void> {
    this.dispatcher.close();
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    await closeServer(this.server);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    if (url.pathname.startsWith('/__sim/') && this.control) {
      this.send(res, await handleControl(this.control, req.method ?? 'GET', url, () => readBody(req)));
      return;
    }
    if (url.pathname === '/v2' || url.pathname.startsWith('/v2/')) {
      this.send(res, await this.v2.handle(req, url, () => readBody(req)));
      return;
    }
    if (url.pathname !== '/v1' && !url.pathname.startsWith('/v1/')) {
      this.send(res, replies.notFound());
      return;
    }

    this.counters.requests += 1;
    this.inFlight += 1;
    this.counters.maxConcurrent = Math.max(this.counters.maxConcurrent, this.inFlight);
    res.once('close', () => {
      this.inFlight -= 1;
    });
    // Every decision (limits above all) is taken on arrival; latency only delays the answer.
    const reply = await this.v1(req, url, req.socket.remoteAddress ?? 'unknown', Date.now());
    this.counters.byStatus[reply.status] = (this.counters.byStatus[reply.status] ?? 0) + 1;
    if (reply.status === 429) this.counters.rateLimited += 1;
    await this.delay();
    this.send(res, reply);
  }

  /**
   * One /v1 request. Order: IP limit, then auth (or the token check), then the per-credential limit, then injected
   * faults, then the endpoint. A request is recorded in a rate window only when it passes every limit that applies.
   */
  private async v1(req: IncomingMessage, url: URL, ip: string, now: number): Promise<Reply> {
    const k = this.current;
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const endpoint = employeesEndpoint(path);
    if (path === '/v1/auth' && method === 'POST') this.counters.authCalls += 1;
    if (endpoint?.kind === 'list') {
      this.counters.employeeListRequests += 1;
      const limit = url.searchParams.get('limit');
      if (limit !== null && /^\d+$/.test(limit)) this.counters.maxLimitRequested = Math.max(this.counters.maxLimitRequested, Number(limit));
    }
    if (!this.ipMinute.hasRoom(ip, k.ipPerMinute, now)) return replies.tooManyRequests(k.retryAfterSeconds);

    if (path === '/v1/auth') {
      if (method !== 'POST') return this.admitIp(ip, now, replies.methodNotAllowed());
      const body = await readBody(req);
      if (!this.authLimiter.admit(ip, k.authPerMinute, k.authCooldownSeconds, now)) return replies.tooManyRequests(k.retryAfterSeconds);
      this.ipMinute.record(ip, now);
      return this.authenticate(req, url, body, now);
    }

    if (endpoint === undefined) return this.admitIp(ip, now, replies.notFound());
    if (method !== 'GET') return this.admitIp(ip, now, replies.methodNotAllowed());

    const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer === undefined) return this.admitIp(ip, now, replies.unauthorized());
    const clientId = this.tokens.resolve(bearer, now, k.tokenTtlSeconds);
    if (clientId === undefined) return this.admitIp(ip, now, replies.forbidden());

    // Keyed by credential, not token: otherwise fresh tokens would buy fresh budget.
    if (!this.credentialSecond.hasRoom(clientId, k.employeesPerSecond, now) || !this.credentialMinute.hasRoom(clientId, k.employeesPerMinute, now)) {
      return replies.tooManyRequests(k.retryAfterSeconds);
    }
    this.ipMinute.record(ip, now);
    this.credentialSecond.record(clientId, now);
    this.credentialMinute.record(clientId, now);

    if (k.errorRate > 0 && this.faultRng() < k.errorRate) return replies.serverFault(Math.floor(this.faultRng() * 3));
    const reply = endpoint.kind === 'list' ? this.list(url) : endpoint.kind === 'attributes' ? this.attributes() : this.one(endpoint.id);
    if (reply.status !== 200) return reply;
    // Personio still echoes the (stable) token on successful personnel-data answers (NOTES.md §1.1).
    return { ...reply, headers: { ...reply.headers, Authorization: `Bearer ${bearer}` } };
  }

  private admitIp(ip: string, now: number, reply: Reply): Reply {
    this.ipMinute.record(ip, now);
    return reply;
  }

  /** Credentials from a JSON or form body, or (as older clients and Personio's Postman collection do) the query. */
  private authenticate(req: IncomingMessage, url: URL, body: string, now: number): Reply {
    const fields = credentialFields(req.headers['content-type'] ?? '', body);
    const clientId = fields.client_id ?? url.searchParams.get('client_id');
    const clientSecret = fields.client_secret ?? url.searchParams.get('client_secret');
    if (!clientId || !clientSecret || this.credentials.get(clientId)?.secret !== clientSecret) return replies.wrongCredentials();
    const issued = this.tokens.issue(clientId, now, this.current.tokenTtlSeconds);
    if (issued.minted) this.counters.tokensIssued += 1;
    return json(200, { success: true, data: { token: issued.token, expires_in: issued.expiresIn, scope: 'employees:read' } });
  }

  private list(url: URL): Reply {
    const reply = listReply(this.store, url, this.readable, this.hidden);
    if (reply.status !== 200 || !(this.current.malformedRate > 0 && this.malformedRng() < this.current.malformedRate)) return reply;
    // A body cut short (a proxy or a crashed worker): 200, complete HTTP message, unparsable JSON.
    const body = reply.body as Buffer;
    return { ...reply, body: body.subarray(0, Math.max(1, Math.floor(body.length * (0.2 + this.malformedRng() * 0.6)))) };
  }

  private one(id: number): Reply {
    return oneReply(this.store, id, this.readable);
  }

  private attributes(): Reply {
    return json(200, { success: true, data: this.store.definitions(this.readable) });
  }

  private async delay(): Promise<void> {
    const { latencyMs, latencyJitter } = this.current;
    if (latencyMs <= 0) return;
    const ms = latencyJitter ? latencyMs * (0.5 + this.latencyRng()) : latencyMs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.pendingTimers.delete(timer);
        resolve();
      }, ms);
      this.pendingTimers.add(timer);
    });
  }

  private send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, { 'Content-Type': reply.contentType, 'Content-Length': body.length, ...reply.headers });
    res.end(body);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return readLimitedBody(req, MAX_BODY_BYTES, () => new Error('request body too large'));
}

function toSet(keys: readonly string[] | null): ReadonlySet<string> | null {
  return keys === null ? null : new Set(keys);
}
