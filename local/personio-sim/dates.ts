/**
 * Dates are spread relative to a fixed day, not the clock, so the same seed gives byte-identical data on any day.
 * Changes made at run time (updateEmployee, addEmployees) use the real clock and so are always "newer".
 */
export const REFERENCE_MS = Date.UTC(2026, 5, 1);
export const DAY_MS = 86_400_000;

// Personio mixes offset styles, even within one payload (NOTES.md §2.3); weights keep the common form common.
export const OFFSET_STYLES = ['+01:00', '+01:00', '+01:00', '+02:00', '+02:00', '+0100', '+0200', 'Z'];

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A clock time in Personio's most common form (`+00:00` offset, second precision). */
export function stampNow(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/**
 * Parses Personio's date forms (`+01:00`, `+0100`, `Z`, date-only) to epoch ms; NaN when unparsable. A value without
 * an offset is read as UTC so the answer does not depend on the machine's time zone.
 */
export function parsePersonioDate(value: string): number {
  const match = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value.trim());
  if (!match) return Number.NaN;
  const [, day, time = '00:00:00', zone = 'Z'] = match;
  const offset = zone === 'Z' ? zone : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return Date.parse(`${day}T${time}${offset}`);
}
