import type { DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { importMessageSchema } from '../lib/queue/message.js';
import { personIdOf } from '../lib/webhooks/change.js';
import { importSourceHandlers, startLocalEnvironment, type Handlers, type LocalEnvironment } from '../local/runner/environment.js';
import { connectThroughApi, runImport } from '../local/runner/import-run.js';

/**
 * The webhook path end to end on the local stack: the simulator changes employees of a large tenant at a steady rate
 * and delivers Personio's webhooks to the local route; the receiver queues them, the refresh re-reads the employees
 * (delta runs), the worker writes the users, the publisher puts the change events on the bus. Measured per change,
 * from the delivery Personio made (the simulator's record of the try that was acknowledged) to the worker invocation
 * that wrote the user returning, and to the publisher invocation that published its change event returning.
 */
export interface WebhookFigures {
  employees: number;
  changes: number;
  /** Changes made per second in the simulator. */
  ratePerSecond: number;
  rowWrittenP50Ms: number;
  rowWrittenP99Ms: number;
  eventPublishedP50Ms: number;
  eventPublishedP99Ms: number;
  /** Personio v1 requests (employee reads and auth) during the change phase, per changed employee. */
  personioRequestsPerChange: number;
  personio429: number;
  deltaRuns: number;
  /** Changes whose user row or event never arrived within the wait. */
  missing: number;
}

/** Wall-clock times at which a wrapped handler returned having handled an employee. */
type Seen = Map<number, number[]>;

function note(seen: Seen, personioId: number, at: number): void {
  const list = seen.get(personioId);
  if (list) list.push(at);
  else seen.set(personioId, [at]);
}

function withTimings(handlers: Handlers, written: Seen, published: Seen): Handlers {
  return {
    ...handlers,
    worker: async (event: SQSEvent, context) => {
      const result = await handlers.worker(event, context);
      const at = Date.now();
      for (const record of event.Records) {
        const parsed = importMessageSchema.safeParse(JSON.parse(record.body));
        if (!parsed.success) continue;
        for (const employee of parsed.data.employees) {
          const id = Number(employee['id']?.value);
          if (Number.isSafeInteger(id)) note(written, id, at);
        }
      }
      return result;
    },
    publisher: async (event: DynamoDBStreamEvent, context) => {
      const result = await handlers.publisher(event, context);
      const at = Date.now();
      for (const record of event.Records) {
        const sk = record.dynamodb?.NewImage?.['sk']?.S ?? '';
        const id = Number(record.dynamodb?.NewImage?.['personioId']?.N);
        if (sk.startsWith('user#') && Number.isSafeInteger(id)) note(published, id, at);
      }
      return result;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The first time at or after `from` that the employee was handled. */
const firstAfter = (seen: Seen, id: number, from: number) => seen.get(id)?.find((t) => t >= from);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function measureWebhooks(options: {
  employees: number;
  changes: number;
  ratePerSecond: number;
  log: (line: string) => void;
}): Promise<WebhookFigures> {
  const written: Seen = new Map();
  const published: Seen = new Map();
  const env: LocalEnvironment = await startLocalEnvironment({
    simulator: { employees: options.employees },
    webhooks: true,
    changeEvents: true,
    workerConcurrency: 4,
    loadHandlers: async () => withTimings(await importSourceHandlers(), written, published),
  });
  try {
    const sim = env.sim;
    if (!sim) throw new Error('the webhook bench needs the simulator');
    const tenantId = 'bench-webhooks';
    const { webhooks } = await connectThroughApi(env, tenantId, env.personio);
    if (webhooks?.status !== 'active') throw new Error(`webhooks are not active after connect: ${webhooks?.reason ?? 'no answer'}`);
    // The first import creates the users; its pace is not what is measured here.
    const limits = sim.knobs();
    sim.setKnobs({ employeesPerSecond: 100_000, employeesPerMinute: 1_000_000, ipPerMinute: 1_000_000 });
    const first = await runImport(env, tenantId);
    options.log(`  first import: ${first.created.toLocaleString('en-US')} users in ${(first.durationMs / 1000).toFixed(1)} s`);
    await env.changeEventsIdle();
    sim.setKnobs({ employeesPerSecond: limits.employeesPerSecond, employeesPerMinute: limits.employeesPerMinute, ipPerMinute: limits.ipPerMinute });
    // Personio's per-minute window starts empty, as it would an hour after the scheduled run.
    sim.resetRateLimits();
    sim.resetStats();
    sim.clearWebhookDeliveries();
    const runsBefore = new Set((await env.runs.list(tenantId, 1000)).map((r) => r.runId));

    // Distinct employees that have a user (an employee without a usable email has none to write), spread over the
    // tenant; names and positions alternate (person.updated, employment.updated).
    const ids = (await env.users.list(tenantId)).map((u) => u.personioId).sort((a, b) => a - b);
    const step = Math.max(1, Math.floor(ids.length / options.changes));
    const changed = Array.from({ length: Math.min(options.changes, ids.length) }, (_, i) => ids[(i * step) % ids.length] as number);
    const intervalMs = 1_000 / options.ratePerSecond;
    const began = Date.now();
    for (const [i, id] of changed.entries()) {
      const due = began + i * intervalMs;
      if (due > Date.now()) await sleep(due - Date.now());
      sim.updateEmployee(id, i % 2 === 0 ? { last_name: `Changed ${i}` } : { position: `Position ${i}` });
    }
    await sim.webhooksIdle();

    const deliveredAt = new Map<number, number>();
    for (const d of sim.webhookDeliveries()) {
      if (!d.ok) continue;
      // As the receiver reads it (the payload's shape differs between person and employment events).
      const id = personIdOf(d.event_name, d.payload);
      if (id !== undefined && !deliveredAt.has(id)) deliveredAt.set(id, Date.parse(d.at));
    }
    // Everything lands within seconds; the wait only bounds a run that lost something.
    const waitUntil = Date.now() + 120_000;
    const complete = () =>
      changed.every((id) => firstAfter(written, id, deliveredAt.get(id) ?? began) && firstAfter(published, id, deliveredAt.get(id) ?? began));
    while (!complete() && Date.now() < waitUntil) await sleep(100);
    await env.changeEventsIdle();

    const rowMs: number[] = [];
    const eventMs: number[] = [];
    let missing = 0;
    for (const id of changed) {
      const delivered = deliveredAt.get(id);
      const row = delivered === undefined ? undefined : firstAfter(written, id, delivered);
      const event = delivered === undefined ? undefined : firstAfter(published, id, delivered);
      if (delivered === undefined || row === undefined || event === undefined) {
        missing++;
        continue;
      }
      rowMs.push(row - delivered);
      eventMs.push(event - delivered);
    }
    rowMs.sort((a, b) => a - b);
    eventMs.sort((a, b) => a - b);
    const stats = sim.stats();
    const deltaRuns = (await env.runs.list(tenantId, 1000)).filter((r) => !runsBefore.has(r.runId) && r.mode === 'delta').length;
    return {
      employees: options.employees,
      changes: changed.length,
      ratePerSecond: options.ratePerSecond,
      rowWrittenP50Ms: percentile(rowMs, 50),
      rowWrittenP99Ms: percentile(rowMs, 99),
      eventPublishedP50Ms: percentile(eventMs, 50),
      eventPublishedP99Ms: percentile(eventMs, 99),
      personioRequestsPerChange: stats.requests / changed.length,
      personio429: stats.rateLimited,
      deltaRuns,
      missing,
    };
  } finally {
    await env.stop();
  }
}
