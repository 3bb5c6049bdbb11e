import type { PersonioClient } from '../personio/client.js';
import { compactEmployee, employeeId, type PersonioEmployee } from '../personio/employee.js';
import { PersonioError, type PersonioErrorCode } from '../personio/errors.js';
import type { EmployeeFailure } from '../runs/run.js';
import { forEachLimited } from '../util/concurrency.js';
import type { HandledEvent } from '../webhooks/change.js';

/** The person's events in one batch: only a deletion among them lets a 404 deactivate the person. */
export type NamedPeople = ReadonlyMap<number, ReadonlySet<HandledEvent>>;

export interface ReadsOutcome {
  /** Named for a deletion and answered 404: the run's `gone` list, sorted. */
  gone: number[];
  /** Not read, one employee at a time (reason: the Personio error code): reported, never deactivated. */
  unread: EmployeeFailure[];
}

const DELETIONS: ReadonlySet<HandledEvent> = new Set(['person.deleted', 'employment.deleted']);
/** Personio's or the tenant's failures, never one employee's: they fail the run and bring its changes back. */
const SYSTEMIC: ReadonlySet<PersonioErrorCode> = new Set(['invalid_credentials', 'forbidden', 'rate_limited']);
/**
 * The client's longest back-off between retries: a read that failed closer than this to the deadline may have had its
 * retries cut short by it. That is the run running out of time (systemic), not this employee failing.
 */
const OUT_OF_TIME_MS = 30_000;
/** Reads in flight: the limiter paces them; a few keep its slots busy despite Personio's latency. */
const READ_CONCURRENCY = 4;
/** Failed reads from which, once they are also most of the batch, Personio itself is taken to be failing. */
const MIN_FAILED_READS = 3;

/**
 * Re-reads the named employees (v1 GET /company/employees/{id}), the tenant's projection kept, handing each read one
 * to `onEmployee` as it arrives. One employee never fails the run (DESIGN): a 404, a 5xx after retries, an unreadable
 * answer or one request's timeout puts that id on `unread`, and the daily reconciliation decides about it. A 404 means
 * deleted only for a person the batch named with a deletion event: a proxy's 404, or a person.created Personio does
 * not serve yet, must not deactivate anyone. Throws (the run fails, its changes come back) on the credential, access,
 * rate limits outlasting the budget, the run's deadline, or most reads failing (at least MIN_FAILED_READS).
 */
export async function readNamed(
  client: PersonioClient,
  people: NamedPeople,
  keep: ReadonlySet<string>,
  readDeadline: number,
  onEmployee: (employee: PersonioEmployee) => void,
): Promise<ReadsOutcome> {
  const ids = [...people.keys()];
  const gone: number[] = [];
  const unread: EmployeeFailure[] = [];
  await forEachLimited(ids, READ_CONCURRENCY, async (id) => {
    let employee: PersonioEmployee;
    try {
      employee = await readEmployee(client, id, keep);
    } catch (error) {
      if (!(error instanceof PersonioError) || systemic(error, readDeadline)) throw error;
      if (error.code === 'not_found' && [...(people.get(id) ?? [])].some((event) => DELETIONS.has(event))) {
        gone.push(id);
        return;
      }
      unread.push({ personioId: id, reason: error.code });
      if (unread.length >= MIN_FAILED_READS && unread.length > ids.length / 2) throw mostFailed(unread, ids.length);
      return;
    }
    onEmployee(employee);
  });
  return { gone: gone.sort((a, b) => a - b), unread };
}

function systemic(error: PersonioError, readDeadline: number): boolean {
  if (SYSTEMIC.has(error.code)) return true;
  return error.code !== 'not_found' && Date.now() > readDeadline - OUT_OF_TIME_MS;
}

/** Most of the batch unreadable is Personio failing (or a proxy in front of it), not that many employees. */
function mostFailed(unread: readonly EmployeeFailure[], named: number): PersonioError {
  const byCode = new Map<string, number>();
  for (const { reason } of unread) byCode.set(reason, (byCode.get(reason) ?? 0) + 1);
  const [top] = [...byCode].sort((a, b) => b[1] - a[1]);
  // A 404 for people not deleted counts as an answer Personio should not have given.
  const code: PersonioErrorCode = !top || top[0] === 'not_found' ? 'bad_response' : (top[0] as PersonioErrorCode);
  const codes = [...byCode].map(([reason, n]) => `${n} ${reason}`).join(', ');
  return new PersonioError(code, `Personio failed on ${unread.length} of the ${named} employees its webhooks named (${codes}).`);
}

/** The employee with only the attributes the tenant's mapping reads (as a full fetch's projection). */
async function readEmployee(client: PersonioClient, id: number, keep: ReadonlySet<string>): Promise<PersonioEmployee> {
  const employee = compactEmployee(await client.getEmployee(id));
  // The by-id endpoint takes no projection: what the mapping does not read is dropped here, before it reaches a message.
  const projected: PersonioEmployee = {};
  for (const [key, attribute] of Object.entries(employee)) if (keep.has(key)) projected[key] = attribute;
  // Personio answering with another employee than asked for would be its bug; trusting it could write the wrong user.
  if (employeeId(projected) !== id) throw new PersonioError('bad_response', `Personio answered another employee than ${id} on /v1/company/employees/{id}.`);
  return projected;
}
