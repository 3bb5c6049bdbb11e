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
]);

export async function handleControl(sim: PersonioSim, method: string, path: string, readBody: () => Promise<string>): Promise<Reply> {
  const route = `${method} ${path}`;
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
    throw new BadRequest(`expected {"add": n}, {"remove": [ids]} or {"update": {"id": n, "changes": {…}}}: ${z.prettifyError(parsed.error)}`);
  const command = parsed.data;
  if ('add' in command) return json(200, { ids: sim.addEmployees(command.add) });
  if ('remove' in command) {
    sim.removeEmployees(command.remove);
    return json(200, { ok: true });
  }
  sim.updateEmployee(command.update.id, command.update.changes);
  return json(200, { ok: true });
}

class BadRequest extends Error {}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new BadRequest('body is not JSON');
  }
}
