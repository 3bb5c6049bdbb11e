import { randomUUID } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Rng } from './data.js';
import { eventPayload, type SimEvent } from './events.js';
import type { SimDeliveryRecord, SimKnobs, SimStats } from './types.js';
import type { StoredWebhook, WebhookRegistry } from './webhook-registry.js';

/**
 * Webhook delivery with Personio's acknowledgement rule: a try counts only when answered 2xx within `ackTimeoutMs`
 * (redirects are not followed). Timeouts, network errors and 5xx other than 501 are retried: each attempt makes up to
 * two immediate tries, then the next attempt waits `webhookRetryDelaysMs[attempt - 1]`; a 4xx, a 501 or a 3xx ends the
 * delivery. Every try is recorded. A retry goes to the webhook as registered then, so a deleted or disabled webhook
 * gets nothing more. Nothing here blocks the change that fired the event.
 */

const FAST_TRIES = 2;
const SHUFFLE_JITTER_MS = 20;
const MAX_RECORDS = 200_000;
// Tries in flight at once; more wait for a slot (their acknowledgement clock starts when sent), so adding thousands of
// employees does not open thousands of sockets.
const MAX_IN_FLIGHT = 64;

interface Job {
  deliveryId: string;
  webhookId: string;
  event_name: string;
  payload: Record<string, unknown>;
  occurred_at: string;
  body: string;
  attempt: number;
}

type TryOutcome = { status: number; error: null } | { status: null; error: string };

export interface DispatcherDeps {
  registry: WebhookRegistry;
  knobs: () => SimKnobs;
  companyId: string;
  rng: Rng;
}

export class WebhookDispatcher {
  private readonly log: SimDeliveryRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<ClientRequest>();
  private waiters: (() => void)[] = [];
  private slotQueue: (() => void)[] = [];
  private active = 0;
  private pending = 0;
  private counts = { attempts: 0, delivered: 0, failed: 0 };
  private closed = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Queues the deliveries of one change's events to every enabled webhook subscribed to them. */
  emit(events: readonly SimEvent[]): void {
    if (this.closed || events.length === 0) return;
    const knobs = this.deps.knobs();
    const occurred_at = new Date().toISOString();
    const jobs: Job[] = [];
    for (const event of events) {
      const payload = eventPayload(event);
      const body = JSON.stringify({ company_id: this.deps.companyId, event_name: event.event_name, occurred_at, payload, meta: {} });
      for (const webhook of this.deps.registry.list()) {
        if (webhook.status !== 'ENABLED' || !webhook.enabled_events.includes(event.event_name)) continue;
        const job = { deliveryId: randomUUID(), webhookId: webhook.id, event_name: event.event_name, payload, occurred_at, body, attempt: 1 };
        jobs.push(job);
        if (knobs.duplicateDeliveries > 0 && this.deps.rng() < knobs.duplicateDeliveries) jobs.push({ ...job, deliveryId: randomUUID() });
      }
    }
    if (knobs.shuffleDeliveries) shuffle(jobs, this.deps.rng);
    this.pending += jobs.length;
    for (const job of jobs) this.later(() => this.run(job), knobs.shuffleDeliveries ? this.deps.rng() * SHUFFLE_JITTER_MS : 0);
  }

  records(): SimDeliveryRecord[] {
    return this.log.map((r) => ({ ...r, payload: structuredClone(r.payload) }));
  }

  clearRecords(): void {
    this.log.length = 0;
  }

  stats(): SimStats['webhooks'] {
    return { ...this.counts, pending: this.pending };
  }

  resetStats(): void {
    this.counts = { attempts: 0, delivered: 0, failed: 0 };
  }

  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Cancels every waiting retry and aborts every try in flight; nothing is delivered afterwards. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
    // Queued tries wake up, see `closed` and stop.
    for (const wake of this.slotQueue.splice(0)) wake();
    this.pending = 0;
    this.wake();
  }

  private async run(job: Job): Promise<void> {
    for (let attemptTry = 1; attemptTry <= FAST_TRIES; attemptTry += 1) {
      await this.slot();
      if (this.closed) return;
      const webhook = this.deps.registry.get(job.webhookId);
      if (webhook?.status !== 'ENABLED') {
        this.release();
        return this.settle();
      }
      const at = Date.now();
      const outcome = await this.send(webhook, job.body);
      this.release();
      if (this.closed) return;
      const ok = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
      this.counts.attempts += 1;
      if (this.log.length < MAX_RECORDS) {
        this.log.push({
          deliveryId: job.deliveryId,
          webhookId: job.webhookId,
          event_name: job.event_name,
          payload: job.payload,
          occurred_at: job.occurred_at,
          attempt: job.attempt,
          try: attemptTry,
          status: outcome.status,
          error: outcome.error,
          ok,
          at: new Date(at).toISOString(),
          durationMs: Date.now() - at,
        });
      }
      if (ok) {
        this.counts.delivered += 1;
        return this.settle();
      }
      if (!retryable(outcome)) break;
      if (attemptTry === FAST_TRIES) {
        const delay = this.deps.knobs().webhookRetryDelaysMs[job.attempt - 1];
        if (delay === undefined) break;
        this.later(() => this.run({ ...job, attempt: job.attempt + 1 }), delay);
        return;
      }
    }
    this.counts.failed += 1;
    this.settle();
  }

  private send(webhook: StoredWebhook, body: string): Promise<TryOutcome> {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    if (webhook.auth_type === 'TOKEN' && webhook.token !== null) headers['Authorization'] = webhook.token;
    if (webhook.auth_type === 'CUSTOM') Object.assign(headers, webhook.customHeaders);
    const target = new URL(webhook.url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: TryOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.timers.delete(timer);
        this.inFlight.delete(req);
        resolve(outcome);
      };
      // agent: false: one connection per try, so nothing lingers in a pool after close().
      const req = request(target, { method: 'POST', headers, agent: false }, (res) => {
        // The status within the deadline is the acknowledgement; the body is not waited for.
        res.resume();
        finish({ status: res.statusCode ?? 0, error: null });
      });
      const timer = setTimeout(() => {
        finish({ status: null, error: 'timeout' });
        req.destroy();
      }, this.deps.knobs().ackTimeoutMs);
      this.timers.add(timer);
      this.inFlight.add(req);
      req.on('error', (error: NodeJS.ErrnoException) => finish({ status: null, error: `network: ${error.code ?? error.name}` }));
      req.end(body);
    });
  }

  private slot(): Promise<void> {
    if (this.active < MAX_IN_FLIGHT) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotQueue.push(resolve));
  }

  /** Hands the slot to the next queued try, if any. */
  private release(): void {
    const next = this.slotQueue.shift();
    if (next) next();
    else this.active -= 1;
  }

  private later(task: () => Promise<void>, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task().catch(() => {
        // send() never rejects; only a bug lands here, and a delivery must still settle.
        this.settle();
      });
    }, ms);
    this.timers.add(timer);
  }

  private settle(): void {
    if (this.pending > 0) this.pending -= 1;
    if (this.pending === 0) this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Personio retries timeouts, network errors and 5xx except 501; a 4xx, a 501 or a redirect is final. */
function retryable(outcome: TryOutcome): boolean {
  if (outcome.status === null) return true;
  return outcome.status >= 500 && outcome.status !== 501;
}

function shuffle<T>(items: T[], rng: Rng): void {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
