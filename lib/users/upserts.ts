import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MappedEmployee } from '../mapping/map-employee.js';
import { isTransientStoreError } from '../storage/conditional.js';
import { forEachLimited } from '../util/concurrency.js';
import type { EmailHolders } from './email-holders.js';
import { EmployeeUpsert, type ImportSource, type UpsertFailureReason, type UpsertResult, type UserReads } from './employee-upsert.js';
import { personioUserId } from './user-id.js';
import { UserWrites } from './user-writes.js';

export type { ImportSource, UserReads } from './employee-upsert.js';

export interface UpsertFailure {
  personioId: number;
  reason: UpsertFailureReason;
  /** For email_taken: the Personio employee whose user holds the address. */
  otherPersonioId?: number;
}

export interface UpsertOutcome {
  created: number;
  updated: number;
  unchanged: number;
  failures: UpsertFailure[];
  /** Values left out of imported employees (an address Personio cleared): reported with the mapping's problems. */
  problems: { personioId: number; reason: string; attribute: string }[];
  /** Employees whose address waits for the run's completion (see `ImportSource.final`). */
  deferred: MappedEmployee[];
  /** Items written (a two-item transaction counts two): what DynamoDB bills as write requests. */
  writeRequests: number;
}

const CONCURRENCY = 16;

/**
 * An import's writes of users from Personio's data, a message's employees at a time: their users and their managers'
 * are resolved in one batch, then each employee is upserted (lib/users/employee-upsert.ts) and its result counted.
 */
export class UserUpserts {
  private readonly employee: EmployeeUpsert;

  constructor(
    db: Pick<DynamoDBDocumentClient, 'send'>,
    tableName: string,
    now: () => Date,
    private readonly reads: UserReads,
    emails: EmailHolders,
  ) {
    this.employee = new EmployeeUpsert(new UserWrites(db, tableName), now, reads, emails);
  }

  async upsertMany(tenantId: string, employees: MappedEmployee[], source: ImportSource): Promise<UpsertOutcome> {
    const outcome: UpsertOutcome = { created: 0, updated: 0, unchanged: 0, failures: [], problems: [], deferred: [], writeRequests: 0 };
    if (employees.length === 0) return outcome;

    const wanted = new Set<number>();
    for (const e of employees) {
      wanted.add(e.personioId);
      if (typeof e.fields.managerPersonioId === 'number') wanted.add(e.fields.managerPersonioId);
    }
    const known = await this.reads.resolve(tenantId, [...wanted]);

    // Employees bringing one address are written one after the other, so the second sees the first's user when it
    // looks the address up (concurrent look-ups could both find it free).
    const lanes = new Map<string, MappedEmployee[]>();
    for (const e of employees) {
      const key = e.fields.email?.toLowerCase() ?? `#${e.personioId}`;
      const lane = lanes.get(key);
      if (lane) lane.push(e);
      else lanes.set(key, [e]);
    }
    const one = async (employee: MappedEmployee): Promise<void> => {
      const managerId = employee.fields.managerPersonioId;
      // A manager not imported yet will get the derived id; the run's completion corrects the rare
      // case where it never arrives or is linked to an existing Dado user instead.
      const managerUserId = typeof managerId === 'number' ? (known.get(managerId)?.userId ?? personioUserId(tenantId, managerId)) : undefined;
      let result: UpsertResult;
      try {
        result = await this.employee.upsert(tenantId, known.get(employee.personioId), employee, managerUserId, source);
      } catch (error) {
        // One employee never fails the message: a value DynamoDB will never accept is that employee's failure.
        // Anything that may pass on a retry (throttling, a timeout, a 5xx) still retries the message.
        if (isTransientStoreError(error)) throw error;
        result = { kind: 'failed', reason: 'not_storable', writes: 0 };
      }
      outcome.writeRequests += result.writes;
      if (result.kind === 'failed') {
        outcome.failures.push({
          personioId: employee.personioId,
          reason: result.reason,
          ...(result.otherPersonioId !== undefined ? { otherPersonioId: result.otherPersonioId } : {}),
        });
      } else if (result.kind === 'deferred') outcome.deferred.push(employee);
      else {
        outcome[result.kind]++;
        if (result.problem) outcome.problems.push({ personioId: employee.personioId, ...result.problem });
      }
    };
    await forEachLimited([...lanes.values()], CONCURRENCY, async (lane) => {
      for (const employee of lane) await one(employee);
    });
    return outcome;
  }
}
