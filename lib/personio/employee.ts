import type { RawEmployee } from './schemas.js';

/**
 * An employee as it travels from the fetch to the worker: Personio's attributes keyed by their
 * Personio key, with the label dropped (tenant-defined, renameable, and the bulk of the bytes).
 * `universal_id` stays because the birthday is found through it.
 */
export interface EmployeeAttribute {
  value: unknown;
  type?: string;
  universal_id?: string;
}
export type PersonioEmployee = Record<string, EmployeeAttribute>;

export function compactEmployee(raw: RawEmployee): PersonioEmployee {
  const out: PersonioEmployee = {};
  for (const [key, attr] of Object.entries(raw.attributes)) {
    const compact: EmployeeAttribute = { value: attr.value ?? null };
    if (attr.type !== undefined) compact.type = attr.type;
    if (attr.universal_id) compact.universal_id = attr.universal_id;
    out[key] = compact;
  }
  return out;
}

/** Personio's employee id; it arrives as a number, sometimes as a numeric string. */
export function employeeId(employee: PersonioEmployee): number | undefined {
  const value = employee['id']?.value;
  const id = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}
