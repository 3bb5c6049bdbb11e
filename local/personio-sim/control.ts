import * as z from 'zod';
import { KnobsError } from './knobs.js';
import { json, type Reply } from './responses.js';
import { StoreInputError } from './store.js';
import type { PersonioSim, SimKnobs } from './types.js';

/**
 * /__sim/* — the same controls as the in-process API, for a simulator running as a child process (tests, benchmarks).
 * Never counted as /v1 traffic, never rate limited, never delayed.
 */

const id = z.number().int().positive();
const employeesCommand = z.union([
  z.strictObject({ add: z.number().int().min(0).max(100_000) }),
  z.strictObject({ remove: z.array(id) }),
  z.strictObject({ update: z.strictObject({ id, changes: z.record(z.string(), z.unknown()) }) }),
  z.strictObject({ terminate: z.strictObject({ id, date: z.string().optional() }) }),
]);
const webhookEvent = z.strictObject({ event: z.string(), id });
const IDLE_WAIT_DEFAULT_MS = 10_000;
const IDLE_WAIT_MAX_MS = 120_000;

export async function handleControl(sim: PersonioSim, method: string, url: URL, readBody: () => Promise<string>): Promise<Reply> {
  const route = `${method} ${url.pathname}`;
  try {
    switch (route) {
      case 'GET /__sim/stats':
        return json(200, sim.stats());
      case 'POST /__sim/reset':
        sim.resetStats();
        return json(200, { ok: true });
      case 'POST /__sim/reset-rate-limits':
        sim.resetRateLimits();
        return json(200, { ok: true });
      case 'GET /__sim/knobs':
        return json(200, sim.knobs());
      case 'POST /__sim/knobs':
        // setKnobs validates with the zod schema, so the cast only hands the raw body over.
        sim.setKnobs(parseJson(await readBody()) as Partial<SimKnobs>);
        return json(200, sim.knobs());
      case 'GET /__sim/employees':
        return json(200, sim.employees());
      case 'POST /__sim/employees':
        return employees(sim, parseJson(await readBody()));
      case 'GET /__sim/webhooks':
        return json(200, sim.webhooks());
      case 'GET /__sim/webhooks/idle':
        return json(200, await waitIdle(sim, url.searchParams.get('timeoutMs')));
      case 'GET /__sim/webhook-deliveries':
        return json(200, sim.webhookDeliveries());
      case 'DELETE /__sim/webhook-deliveries':
        sim.clearWebhookDeliveries();
        return json(200, { ok: true });
      case 'POST /__sim/webhook-events': {
        const parsed = webhookEvent.safeParse(parseJson(await readBody()));
        if (!parsed.success) throw new BadRequest(`expected {"event": "employment.started", "id": n}: ${z.prettifyError(parsed.error)}`);
        sim.emitWebhookEvent(parsed.data.event, parsed.data.id);
        return json(200, { ok: true });
      }
      case 'POST /__sim/revoke-tokens':
        sim.revokeTokens();
        return json(200, { ok: true });
      default:
        return json(404, { error: `no control endpoint ${route}` });
    }
  } catch (error) {
    if (error instanceof KnobsError || error instanceof BadRequest) return json(400, { error: error.message });
    if (error instanceof StoreInputError) return json(error.status, { error: error.message });
    throw error;
  }
}

function employees(sim: PersonioSim, body: unknown): Reply {
  const parsed = employeesCommand.safeParse(body);
  if (!parsed.success)
    throw new BadRequest(
      `expected {"add": n}, {"remove": [ids]}, {"update": {"id": n, "changes": {…}}} or {"terminate": {"id": n, "date"?: "YYYY-MM-DD"}}: ${z.prettifyError(parsed.error)}`,
    );
  const command = parsed.data;
  if ('add' in command) return json(200, { ids: sim.addEmployees(command.add) });
  if ('remove' in command) {
    sim.removeEmployees(command.remove);
    return json(200, { ok: true });
  }
  if ('terminate' in command) {
    sim.terminateEmployee(command.terminate.id, command.terminate.date);
    return json(200, { ok: true });
  }
  sim.updateEmployee(command.update.id, command.update.changes);
  return json(200, { ok: true });
}

/** Waits (bounded) until no webhook delivery is pending; `idle: false` when the wait ran out first. */
async function waitIdle(sim: PersonioSim, raw: string | null): Promise<{ idle: boolean; pending: number }> {
  const wanted = raw === null ? IDLE_WAIT_DEFAULT_MS : Number(raw);
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > IDLE_WAIT_MAX_MS) throw new BadRequest(`timeoutMs must be an integer from 0 to ${IDLE_WAIT_MAX_MS}`);
  let timer: NodeJS.Timeout | undefined;
  const idle = await Promise.race([
    sim.webhooksIdle().then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), wanted);
    }),
  ]);
  clearTimeout(timer);
  return { idle, pending: sim.stats().webhooks.pending };
}

class BadRequest extends Error {}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new BadRequest('body is not JSON');
  }
}
