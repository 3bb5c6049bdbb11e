import { employeeId, type EmployeeAttribute, type PersonioEmployee } from '../personio/employee.js';
import {
  toCalendarDate,
  toEmail,
  toEmploymentType,
  toNumber,
  toOrgName,
  toPlainValue,
  toStatus,
  toSupervisorId,
  toTags,
  toText,
  Unusable,
  type ProblemCode,
  type Status,
} from './convert.js';
import type { Mapping, UserFieldName } from './mapping.js';

export interface MappedFields {
  email: string | null;
  firstName: string | null;
  preferredName: string | null;
  lastName: string | null;
  position: string | null;
  team: string | null;
  department: string | null;
  office: string | null;
  employmentType: 'internal' | 'external' | null;
  hireDate: string | null;
  terminationDate: string | null;
  birthday: string | null;
  status: Status | null;
  managerPersonioId: number | null;
}

/** Compile-time check: MappedFields has exactly the mapping's user fields (this line fails to compile otherwise). */
type SameKeys<A, B extends PropertyKey> = [Exclude<keyof A, B> | Exclude<B, keyof A>] extends [never] ? true : false;
type Assert<T extends true> = T;
export type MappedFieldsMatchUserFields = Assert<SameKeys<MappedFields, UserFieldName>>;

/**
 * A value Personio sent that the mapping left out: `field` is the user field (`customFields.<name>`
 * for a custom one), `attribute` the Personio key it came from. Never the value itself: it may be
 * personal data, and the report is read by people who must not see it.
 */
export interface MappingProblem {
  field: string;
  attribute: string;
  code: ProblemCode;
}

export interface MappedEmployee {
  personioId: number;
  /** Only fields whose attribute was present: an absent attribute leaves the user's field alone. */
  fields: Partial<MappedFields>;
  customFields: Record<string, unknown>;
  /** Fields present in Personio's payload whose value cannot be used (left as they were, reported). */
  problems: MappingProblem[];
  /**
   * Personio's `status` when the payload carried a status Personio defines, whether or not the tenant imports the
   * status field: it decides whether the user is active (inactive = a leaver). Absent when the payload had no status or
   * one the mapping cannot read (then `active` stays as it was, and the problem is reported).
   */
  personioStatus?: Status;
}

export type MapResult = { ok: true; employee: MappedEmployee } | { ok: false; personioId: number | undefined; reason: string };

type Converter = (value: unknown) => unknown;

const converters: Record<UserFieldName, Converter> = {
  email: toEmail,
  firstName: toText,
  preferredName: toText,
  lastName: toText,
  position: toText,
  team: toOrgName,
  department: toOrgName,
  office: toOrgName,
  employmentType: toEmploymentType,
  hireDate: toCalendarDate,
  terminationDate: toCalendarDate,
  birthday: toCalendarDate,
  status: toStatus,
  managerPersonioId: toSupervisorId,
};

function convertCustom(attribute: EmployeeAttribute): unknown {
  switch (attribute.type) {
    case 'date':
      return toCalendarDate(attribute.value);
    case 'tags':
      return toTags(attribute.value);
    case 'integer':
      return toNumber(attribute.value, 'integer');
    case 'decimal':
      return toNumber(attribute.value, 'decimal');
    default:
      return toPlainValue(attribute.value);
  }
}

/** Maps one Personio employee to the user fields the tenant imports. Pure; never throws on data. */
export function mapEmployee(employee: PersonioEmployee, mapping: Mapping): MapResult {
  const personioId = employeeId(employee);
  if (personioId === undefined) return { ok: false, personioId: undefined, reason: 'missing_id' };

  const fields: Partial<Record<UserFieldName, unknown>> = {};
  const problems: MappingProblem[] = [];
  for (const [field, source] of Object.entries(mapping.fields) as [UserFieldName, string | null][]) {
    if (!source) continue;
    const attribute = employee[source];
    if (!attribute) continue;
    const converted = converters[field](attribute.value);
    if (converted instanceof Unusable) problems.push({ field, attribute: source, code: converted.code });
    else fields[field] = converted;
  }

  const customFields: Record<string, unknown> = {};
  for (const [name, source] of Object.entries(mapping.customFields)) {
    const attribute = employee[source];
    if (!attribute) continue;
    const converted = convertCustom(attribute);
    if (converted instanceof Unusable) problems.push({ field: `customFields.${name}`, attribute: source, code: converted.code });
    else customFields[name] = converted;
  }

  const personioStatus = leaverSignal(employee, mapping, fields, problems);
  return { ok: true, employee: { personioId, fields: fields as Partial<MappedFields>, customFields, problems, ...(personioStatus ? { personioStatus } : {}) } };
}

/**
 * Personio keeps leavers in the list with status `inactive`, so its status is what makes a leaver lose access: read
 * whenever it is sent (the fetch always asks for it), imported as a field or not. A value it cannot read is a problem,
 * reported once (under the status field when that is imported, as `active` otherwise).
 */
function leaverSignal(
  employee: PersonioEmployee,
  mapping: Mapping,
  fields: Partial<Record<UserFieldName, unknown>>,
  problems: MappingProblem[],
): Status | undefined {
  const attribute = employee['status'];
  if (!attribute) return undefined;
  // Already converted when the status field is imported from it (the common case): read it once.
  const mapped = mapping.fields.status === 'status' ? (fields.status as Status | null | undefined) : undefined;
  const status = mapped !== undefined ? mapped : toStatus(attribute.value);
  // An empty status says nothing about the employee: `active` stays as it was.
  if (status === null) return undefined;
  if (status instanceof Unusable) {
    if (!problems.some((p) => p.attribute === 'status')) problems.push({ field: 'active', attribute: 'status', code: status.code });
    return undefined;
  }
  return status;
}
