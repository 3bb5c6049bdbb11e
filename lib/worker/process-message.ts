import { mapEmployee, type MappedEmployee } from '../mapping/map-employee.js';
import { importMessageSchema, type ImportMessage } from '../queue/message.js';
import { finalizeRunIfDone, type FinalizeDeps } from '../runs/finalize.js';
import type { MessageMarker, RunStore } from '../runs/store.js';
import type { UserStore } from '../users/store.js';
import { PermanentMessageError } from './errors.js';

export interface ProcessMessageDeps extends FinalizeDeps {
  runs: RunStore;
  users: UserStore;
}

export interface ProcessMessageResult {
  runId: string;
  duplicate: boolean;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  /** Set when this message finished its run. */
  finalStatus: 'completed' | 'held' | undefined;
}

/** Parses an SQS body; a body that can never parse is a permanent failure. */
export function parseImportMessage(body: string): ImportMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new PermanentMessageError('malformed_message', 'The message body is not JSON.', { cause: error });
  }
  const parsed = importMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentMessageError('malformed_message', `The message body is not an import message (${issue?.path.join('.') || 'root'}: ${issue?.message}).`);
  }
  return parsed.data;
}

/**
 * Maps and upserts one message's employees, adds the outcome to the run exactly once, and finishes
 * the run when this was its last message. Retrying the same message is always safe.
 */
export async function processImportMessage(deps: ProcessMessageDeps, message: ImportMessage): Promise<ProcessMessageResult> {
  const run = await deps.runs.get(message.tenantId, message.runId);
  if (!run) throw new PermanentMessageError('unknown_run', `Run ${message.runId} of tenant ${message.tenantId} does not exist.`);

  const mapped: MappedEmployee[] = [];
  const marker: MessageMarker = { seq: message.seq, personioIds: [], presentFields: [], failures: [] };
  const present = new Set<string>();
  for (const employee of message.employees) {
    const result = mapEmployee(employee, run.mapping);
    if (result.ok) {
      mapped.push(result.employee);
      marker.personioIds.push(result.employee.personioId);
      for (const field of Object.keys(result.employee.fields)) present.add(field);
      for (const field of result.employee.problems) present.add(field);
    } else {
      marker.failures.push({ personioId: result.personioId ?? null, reason: result.reason });
    }
  }

  marker.presentFields = [...present].sort();

  const outcome = await deps.users.upsertMany(message.tenantId, mapped, { runId: message.runId, fetchedAt: message.fetchedAt });
  for (const failure of outcome.failures) marker.failures.push(failure);
  const counts = {
    created: outcome.created,
    updated: outcome.updated,
    unchanged: outcome.unchanged,
    failed: marker.failures.length,
    dynamoWriteRequests: outcome.writeRequests,
  };
  const recorded = await deps.runs.recordMessage(message.tenantId, message.runId, marker, counts);

  // Also on a redelivery: if the worker that recorded the last message died while finishing the run,
  // this is how the run gets finished.
  const latest = await deps.runs.get(message.tenantId, message.runId);
  const finalStatus = latest ? await finalizeRunIfDone(deps, latest) : undefined;
  return { runId: message.runId, duplicate: !recorded, ...counts, finalStatus };
}
