/** Conversions from Personio's loose attribute values to the user record's types. */

const datePrefix = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/;

/**
 * Personio dates are calendar dates dressed as timestamps (`2014-11-09T00:00:00+01:00`); shifting
 * them through UTC would move them to the day before. Take the date as written.
 */
export function toCalendarDate(value: unknown): string | null | undefined {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') return undefined;
  const match = datePrefix.exec(value.trim());
  if (!match) return undefined;
  const [, y, m, d] = match;
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return undefined;
  return `${y}-${m}-${d}`;
}

export function toText(value: unknown): string | null | undefined {
  if (value === null) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/** Numbers arrive as numbers or as numeric strings ("40", "32.5"). */
export function toNumber(value: unknown): number | null | undefined {
  if (value === null || value === '') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Unwraps `{label, value, …}` wrappers (supervisor's attributes) and leaves plain values alone (department's). */
function unwrap(value: unknown): unknown {
  return isRecord(value) && 'value' in value ? value['value'] : value;
}

/**
 * The `attributes` of a relation (team, department, office, supervisor): null for an empty relation
 * (null, '', [], {} or no attributes), which clears the field; undefined when it is unreadable.
 */
function relationAttributes(value: unknown): Record<string, unknown> | null | undefined {
  if (value === null || value === '' || (Array.isArray(value) && value.length === 0)) return null;
  if (!isRecord(value)) return undefined;
  const attributes = value['attributes'];
  if (attributes === undefined || (isRecord(attributes) && Object.keys(attributes).length === 0)) return null;
  if (!isRecord(attributes)) return undefined;
  return attributes;
}

/** The `name` inside team / department / office; an empty relation (null, {}, []) clears the field. */
export function toOrgName(value: unknown): string | null | undefined {
  const attributes = relationAttributes(value);
  if (!attributes) return attributes;
  return toText(unwrap(attributes['name']));
}

/** The supervisor's Personio id from its wrapped attributes. */
export function toSupervisorId(value: unknown): number | null | undefined {
  const attributes = relationAttributes(value);
  if (!attributes) return attributes;
  const id = toNumber(unwrap(attributes['id']));
  return id === null ? null : id !== undefined && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

export function toEmail(value: unknown): string | null | undefined {
  const text = toText(value);
  if (text === null || text === undefined) return text;
  // Personio treats emails case-insensitively and tenants type them in any case; Dado logins are lower-case.
  const email = text.toLowerCase();
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? email : undefined;
}

export const statuses = ['onboarding', 'active', 'leave', 'inactive'] as const;
export type Status = (typeof statuses)[number];

/** A converter to one of `values`, compared case-insensitively. */
function toEnum<T extends string>(values: readonly T[]): (value: unknown) => T | null | undefined {
  return (value) => {
    const text = toText(value);
    if (text === null || text === undefined) return text;
    const lower = text.toLowerCase();
    return (values as readonly string[]).includes(lower) ? (lower as T) : undefined;
  };
}

export const toStatus = toEnum(statuses);

const employmentTypes = ['internal', 'external'] as const;
export const toEmploymentType = toEnum(employmentTypes);

/** Tags come as a comma-joined string (sometimes already a list). */
export function toTags(value: unknown): string[] | null | undefined {
  if (value === null || value === '') return null;
  if (Array.isArray(value)) return value.map((v) => toText(v)).filter((v): v is string => typeof v === 'string');
  if (typeof value !== 'string') return undefined;
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}
