import type { StoredUser } from '../users/user.js';
import type { EmployeeFailure, Finding } from './run.js';

/** The findings a run reports: readable prose with stable codes, naming Personio ids and attributes, never values. */

export function heldFinding(count: number, active: number, why: string): Finding {
  const share = active === 0 ? 0 : Math.round((count / active) * 100);
  return {
    code: 'deactivation_held',
    message: `This run would deactivate ${count} of ${active} active users (${share} %), and is held because ${why}; nobody was deactivated. Approving the run deactivates exactly these ${count} users, except any a newer import has changed since.`,
  };
}

const failureReasons: Record<string, string> = {
  missing_id: 'had no Personio id',
  missing_email: 'have no usable email address in Personio',
  email_taken: 'have an email address that the user of another, still active, Personio employee has',
  conflict: 'changed concurrently; the next import will retry them',
  not_storable: 'have a value that cannot be stored',
  employee_too_large: 'are too large to import (over the message size)',
  // A delta run's re-read of one employee (webhooks); the daily reconciliation reads them again.
  not_found: 'were not found in Personio when re-read (a change that named no deletion: nobody was deactivated; the next full import decides)',
  unavailable: 'could not be re-read (Personio failed for them; the next change or the next full import brings them)',
  timeout: 'could not be re-read in time (the next change or the next full import brings them)',
  bad_response: 'came back from Personio unreadable when re-read (the next change or the next full import brings them)',
};

/** One finding per reason (and attribute), naming Personio ids and attributes, never values. */
export function failureFindings(failures: EmployeeFailure[]): Finding[] {
  const byReason = new Map<string, { reason: string; attribute: string | undefined; ids: (number | null)[]; pairs: [number | null, number][] }>();
  for (const failure of failures) {
    const key = `${failure.reason}\u0000${failure.attribute ?? ''}`;
    const entry = byReason.get(key) ?? { reason: failure.reason, attribute: failure.attribute, ids: [], pairs: [] };
    entry.ids.push(failure.personioId);
    if (failure.otherPersonioId !== undefined) entry.pairs.push([failure.personioId, failure.otherPersonioId]);
    byReason.set(key, entry);
  }
  return [...byReason.values()].map(({ reason, attribute, ids, pairs }) => {
    const sample = reason === 'email_taken' && pairs.length > 0 ? pairSample(pairs) : idSample(ids);
    const what = failureReasons[reason] ?? reason;
    const where = attribute ? ` in attribute ${attribute}` : '';
    return {
      code: `employees_${reason}`,
      message: `${ids.length} employee(s) ${what}${where} and were not imported${attribute ? ' with that value' : ''}${sample ? ` (Personio ids ${sample})` : ''}.`,
    };
  });
}

const problemWording: Record<string, string> = {
  unreadable_value: 'could not be read',
  not_storable: 'cannot be stored',
};

/** Values left out of imported employees: one finding per kind and attribute, with Personio ids, never the values. */
export function problemFindings(problems: EmployeeFailure[]): Finding[] {
  const byKind = new Map<string, { reason: string; attribute: string; ids: (number | null)[] }>();
  for (const problem of problems) {
    const attribute = problem.attribute ?? 'unknown';
    const key = `${problem.reason}\u0000${attribute}`;
    const entry = byKind.get(key) ?? { reason: problem.reason, attribute, ids: [] };
    entry.ids.push(problem.personioId);
    byKind.set(key, entry);
  }
  return [...byKind.values()].map(({ reason, attribute, ids }) => ({
    code: `values_${reason}`,
    message: `The ${attribute} value of ${ids.length} employee(s) ${problemWording[reason] ?? reason}; those fields were left as they were (Personio ids ${idSample(ids)}).`,
  }));
}

/** Up to ten `id (address held by other)` pairs. */
function pairSample(pairs: readonly [number | null, number][]): string {
  const sample = pairs.slice(0, 10).map(([id, other]) => `${id ?? 'unknown'} (address held by active employee ${other})`);
  return `${sample.join(', ')}${pairs.length > sample.length ? ', …' : ''}`;
}

/** Up to ten of the (known) ids, `, …` when there are more; empty when none is known. */
export function idSample(ids: readonly (number | null)[]): string {
  const sample = ids.filter((id) => id !== null).slice(0, 10);
  if (sample.length === 0) return '';
  return `${sample.join(', ')}${ids.length > sample.length ? ', …' : ''}`;
}

/**
 * Active users sharing one address, which the import's rules refuse: reported so an admin sees it. It can happen
 * when two employees with one address are created at the same moment by different workers, since the email index
 * that decides it is read before either write (see README, "Where this departs from an issue").
 */
export function duplicateAddressFindings(users: readonly StoredUser[]): Finding[] {
  const byAddress = new Map<string, number[]>();
  for (const user of users) {
    if (!user.active || !user.emailKey || typeof user.personioId !== 'number') continue;
    byAddress.set(user.emailKey, [...(byAddress.get(user.emailKey) ?? []), user.personioId]);
  }
  const groups = [...byAddress.values()].filter((ids) => ids.length > 1);
  if (groups.length === 0) return [];
  const sample = groups
    .slice(0, 10)
    .map((ids) => ids.join(' and '))
    .join('; ');
  return [
    {
      code: 'email_duplicates',
      message: `${groups.length} address(es) belong to more than one active user (Personio ids ${sample}${groups.length > 10 ? '; …' : ''}). Give each employee its own address in Personio.`,
    },
  ];
}
