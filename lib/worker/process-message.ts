import { mapEmployee, type MappedEmployee } from '../mapping/map-employee.js';
import { importMessageSchema, type ImportMessage } from '../queue/message.js';
import { finalizeRun, type FinalizeDeps } from '../runs/finalize.js';
import type { RunMode } from '../runs/run.js';
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
  /** The run's mode, read with the run anyway: a delta run's outcome counts in its own metrics. */
  mode: RunMode;
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
 * Maps and upserts one message's employees, records the outcome exactly once, and finishes the run when this was its
 * last message. Retrying the same message is always safe. A message of a run that is already final, failed or
 * stalled still applies its data (where it is not older than what the table holds), but the run's completion refuses
 * it: it never finalizes or deactivates anything.
 */
export async function processImportMessage(deps: ProcessMessageDeps, message: ImportMessage): Promise<ProcessMessageResult> {
  const run = await deps.runs.get(message.tenantId, message.runId);
  if (!run) throw new PermanentMessageError('unknown_run', `Run ${message.runId} of tenant ${message.tenantId} does not exist.`);

  const mapped: MappedEmployee[] = [];
  const marker: MessageMarker = {
    seq: message.seq,
    personioIds: [],
    presentFields: [],
    failures: [],
    problems: [],
    statusSeen: 0,
    deferred: [],
    created: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    dynamoWriteRequests: 0,
  };
  const present = new Set<string>();
  for (const employee of message.employees) {
    const result = mapEmployee(employee, run.mapping);
    if (employee['status'] !== undefined) marker.statusSeen++;
    if (result.ok) {
      mapped.push(result.employee);
      marker.personioIds.push(result.employee.personioId);
      for (const field of Object.keys(result.employee.fields)) present.add(field);
      for (const problem of result.employee.problems) {
        // The attribute was there, only its value unusable: the field is present, and left as it was.
        present.add(problem.field);
        marker.problems.push({ personioId: result.employee.personioId, reason: problem.code, attribute: problem.attribute });
      }
    } else {
      marker.failures.push({ personioId: result.personioId ?? null, reason: result.reason });
    }
  }
  marker.presentFields = [...present].sort();

  const outcome = await deps.users.upsertMany(message.tenantId, mapped, {
    runId: message.runId,
    fetchedAt: message.fetchedAt,
    ...(message.touch ? { touch: true } : {}),
  });
  for (const failure of outcome.failures) marker.failures.push(failure);
  marker.deferred = outcome.deferred;
  for (const problem of outcome.problems) marker.problems.push(problem);
  Object.assign(marker, {
    created: outcome.created,
    updated: outcome.updated,
    unchanged: outcome.unchanged,
    failed: marker.failures.length,
    dynamoWriteRequests: outcome.writeRequests,
  });
  const recorded = await deps.runs.recordMessage(message.tenantId, message.runId, marker);

  // Also on a redelivery: if the worker that recorded the last message died while finishing the run, this is how the
  // run gets finished (the claim lets exactly one caller do it, and refuses a run that is not processing any more).
  const finalStatus = recorded.complete ? await finalizeRun(deps, message.tenantId, message.runId) : undefined;
  const { created, updated, unchanged, failed } = marker;
  return { runId: message.runId, duplicate: !recorded.recorded, created, updated, unchanged, failed, finalStatus, mode: run.mode };
}
