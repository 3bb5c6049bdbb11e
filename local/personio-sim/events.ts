/**
 * Which webhook events a change to the simulator's data fires, the way Personio fires them. person.updated only for
 * a person's own attributes (Personio: first_name, last_name, gender, language_code, email, preferred_name and every
 * custom attribute); employment.updated for the employment's (position, org units, supervisor, status, dates, …),
 * never the other way round: a job change fires no person.updated. Attributes of neither kind (salaries, holiday
 * calendar, absence entitlement, timestamps) fire nothing.
 */

export interface SimEvent {
  event_name: string;
  employeeId: number;
}

const PERSON_KEYS = new Set(['first_name', 'last_name', 'gender', 'email', 'preferred_name', 'language_code']);
const EMPLOYMENT_KEYS = new Set([
  'position',
  'department',
  'office',
  'team',
  'subcompany',
  'supervisor',
  'status',
  'hire_date',
  'termination_date',
  'termination_type',
  'termination_reason',
  'last_working_day',
  'contract_end_date',
  'probation_period_end',
  'employment_type',
  'weekly_working_hours',
  'cost_centers',
  'work_schedule',
]);

export function isPersonKey(key: string): boolean {
  return PERSON_KEYS.has(key) || key.startsWith('dynamic_');
}

export function isEmploymentKey(key: string): boolean {
  return EMPLOYMENT_KEYS.has(key);
}

/** Events for an update, from the values before and after it; a key set to its current value changes nothing. */
export function updateEvents(employeeId: number, keys: readonly string[], before: Record<string, unknown>, after: Record<string, unknown>): SimEvent[] {
  const changed = keys.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  const events: string[] = [];
  if (changed.some(isPersonKey)) events.push('person.updated');
  if (changed.some(isEmploymentKey)) events.push('employment.updated');
  if (before['status'] !== 'inactive' && after['status'] === 'inactive') events.push('employment.terminated');
  return events.map((event_name) => ({ event_name, employeeId }));
}

export function createdEvents(employeeId: number): SimEvent[] {
  // Creating an employee in Personio creates the person and its employment.
  return [
    { event_name: 'person.created', employeeId },
    { event_name: 'employment.created', employeeId },
  ];
}

export function deletedEvents(employeeId: number): SimEvent[] {
  return [
    { event_name: 'person.deleted', employeeId },
    { event_name: 'employment.deleted', employeeId },
  ];
}

/** The simulator's employment id for an employee: one employment per person. */
export function employmentId(employeeId: number): string {
  return `e-${employeeId}`;
}

/**
 * Dataless payloads: ids only, keyed by entity as docs/personio-webhooks.md §3 expects (Personio documents no payload
 * per event). A person id is the v1 employee id as a string; an employment event's own id is the employment's.
 */
export function eventPayload(event: SimEvent): Record<string, unknown> {
  const person = { id: String(event.employeeId) };
  return event.event_name.startsWith('person.') ? { person } : { id: employmentId(event.employeeId), person };
}
