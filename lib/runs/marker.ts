import type { MappedEmployee } from '../mapping/map-employee.js';
import type { EmployeeFailure, MessageCounts } from './run.js';

/**
 * What a processed message leaves behind, written once (a redelivery finds it and counts nothing): the ids it
 * carried (who the run saw), per-employee failures, and its counts, which the run's completion sums. Keeping the
 * counts here rather than adding them to the run record is what lets ten workers record messages at once without
 * contending for one item.
 */
export interface MessageMarker extends MessageCounts {
  seq: number;
  personioIds: number[];
  /** User fields whose attribute at least one employee of the message carried (absent = not readable). */
  presentFields: string[];
  failures: EmployeeFailure[];
  /** Values left out of an imported employee (unreadable or not storable): reported, the employee is still imported. */
  problems: EmployeeFailure[];
  /** Employees whose payload carried Personio's status (the leaver signal). */
  statusSeen: number;
  /** Employees whose address waits for the run's completion (held by a user this run may find gone). */
  deferred: MappedEmployee[];
}

/** A user a held run would deactivate, and the content it had then: approval skips it if either changed since. */
export interface PendingDeactivation {
  userId: string;
  contentHash: string;
}

/** A marker as stored; markers written by older versions lack newer fields. */
export function toMarker(item: Record<string, unknown>): MessageMarker {
  const count = (key: string) => (item[key] as number | undefined) ?? 0;
  return {
    seq: item['seq'] as number,
    personioIds: (item['personioIds'] as number[] | undefined) ?? [],
    presentFields: (item['presentFields'] as string[] | undefined) ?? [],
    failures: (item['failures'] as EmployeeFailure[] | undefined) ?? [],
    problems: (item['problems'] as EmployeeFailure[] | undefined) ?? [],
    // Markers written before the count existed: assume status was there, as it always was requested.
    statusSeen: (item['statusSeen'] as number | undefined) ?? Number.POSITIVE_INFINITY,
    deferred: (item['deferred'] as MappedEmployee[] | undefined) ?? [],
    created: count('created'),
    updated: count('updated'),
    unchanged: count('unchanged'),
    failed: count('failed'),
    dynamoWriteRequests: count('dynamoWriteRequests'),
  };
}

/** A run's counts summed over its markers. */
export function sumCounts(markers: MessageMarker[]): MessageCounts & { messagesProcessed: number } {
  const sums = { created: 0, updated: 0, unchanged: 0, failed: 0, dynamoWriteRequests: 0, messagesProcessed: markers.length };
  for (const m of markers) {
    sums.created += m.created;
    sums.updated += m.updated;
    sums.unchanged += m.unchanged;
    sums.failed += m.failed;
    sums.dynamoWriteRequests += m.dynamoWriteRequests;
  }
  return sums;
}

export function isComplete(progress: Record<string, unknown> | undefined): boolean {
  const sent = progress?.['messagesSent'];
  if (typeof sent !== 'number') return false;
  const seqs = progress?.['seqs'];
  const processed = seqs instanceof Set ? seqs.size : 0;
  return processed >= sent;
}
