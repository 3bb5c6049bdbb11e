/**
 * Conversions from Personio's loose attribute values to the user record's types. A converter returns
 * the value to store, null to clear the field, or an `Unusable` saying why the value cannot be used:
 * one employee's odd value must cost that field, never the whole user record.
 */

export type ProblemCode = 'unreadable_value' | 'not_storable';

/** Why a value is left out: the mapping cannot read it, or DynamoDB could not store it as it is. */
export class Unusable {
  private constructor(readonly code: ProblemCode) {}
  static readonly unreadable = new Unusable('unreadable_value');
  static readonly notStorable = new Unusable('not_storable');
}

const { unreadable, notStorable } = Unusable;

export type Converted<T> = T | null | Unusable;

// In a `u` regex a well-formed pair is one code point, so \p{Cs} matches only an unpaired surrogate,
// which UTF-8 (DynamoDB's strings) cannot encode.
const loneSurrogate = /\p{Cs}/u;

const datePrefix = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/;

/**
 * Personio dates are calendar dates dressed as timestamps (`2014-11-09T00:00:00+01:00`); shifting
 * them through UTC would move them to the day before. Take the date as written.
 */
export function toCalendarDate(value: unknown): Converted<string> {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') return unreadable;
  const match = datePrefix.exec(value.trim());
  if (!match) return unreadable;
  const [, y, m, d] = match;
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return unreadable;
  return `${y}-${m}-${d}`;
}

/** Every string the mapping stores passes through here, so this is where a lone surrogate is caught. */
export function toText(value: unknown): Converted<string> {
  if (value === null) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : unreadable;
  if (typeof value !== 'string') return unreadable;
  if (loneSurrogate.test(value)) return notStorable;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/** A decimal as significant digits (no leading or trailing zeros; '' for zero) and the power of ten of the first. */
interface Decimal {
  negative: boolean;
  digits: string;
  exponent: number;
}

const decimalText = /^(-)?(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

function parseDecimal(text: string): Decimal | undefined {
  const match = decimalText.exec(text);
  if (!match) return undefined;
  const [, sign, whole = '', fraction = '', exp = '0'] = match;
  const all = whole + fraction;
  let start = 0;
  let end = all.length;
  // Loops, not /0+$/: V8 backtracks that in quadratic time, and one long value would stall a whole message.
  while (start < end && all[start] === '0') start++;
  while (end > start && all[end - 1] === '0') end--;
  const digits = all.slice(start, end);
  return { negative: sign === '-' && digits !== '', digits, exponent: digits === '' ? 0 : whole.length - start - 1 + Number(exp) };
}

/** DynamoDB's number type: at most 38 significant digits, magnitude from 1E-130 to below 1E+126 (or zero). */
function fitsDynamo(d: Decimal): boolean {
  return d.digits === '' || (d.digits.length <= 38 && d.exponent >= -130 && d.exponent <= 125);
}

const sameDecimal = (a: Decimal, b: Decimal): boolean => a.negative === b.negative && a.digits === b.digits && a.exponent === b.exponent;

const isInteger = (d: Decimal): boolean => d.digits === '' || d.exponent >= d.digits.length - 1;

/** Shortest exact text: the same value always stores the same string, whatever padding Personio sent. */
function decimalString(d: Decimal): string {
  if (d.digits === '') return '0';
  const sign = d.negative ? '-' : '';
  if (d.exponent < 0) return `${sign}0.${'0'.repeat(-d.exponent - 1)}${d.digits}`;
  const whole = d.digits.slice(0, d.exponent + 1).padEnd(d.exponent + 1, '0');
  const fraction = d.digits.slice(d.exponent + 1);
  return fraction === '' ? `${sign}${whole}` : `${sign}${whole}.${fraction}`;
}

export type NumberKind = 'integer' | 'decimal';

/** What the SDK marshals as a number (it refuses anything beyond ±(2^53 − 1)) and DynamoDB accepts. */
function storableNumber(n: number): boolean {
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) return false;
  const decimal = parseDecimal(String(n));
  return decimal !== undefined && fitsDynamo(decimal);
}

/**
 * Numbers arrive as numbers or as numeric strings ("40", "32.5"). A value a JS number holds exactly
 * and DynamoDB can store stays a number; a numeric string a JS number cannot hold exactly (a 17-digit
 * badge number, more digits than a double keeps, beyond the range) is kept as its exact decimal text
 * rather than rounded. A number that arrived already beyond 2^53 may have lost digits while being
 * parsed and cannot be made exact again, so it is a problem, as is anything non-finite.
 */
export function toNumber(value: unknown, kind: NumberKind): Converted<number | string> {
  if (value === null) return null;
  if (typeof value === 'number') return fromNumber(value, kind);
  if (typeof value !== 'string') return unreadable;
  const text = value.trim();
  if (text === '') return null;
  // Plain decimals only: exponents, "Infinity", "0x1F" or "1,5" are not how Personio writes numbers.
  if (!/^-?\d+(\.\d+)?$/.test(text)) return unreadable;
  const written = parseDecimal(text);
  if (!written || (kind === 'integer' && !isInteger(written))) return unreadable;
  const number = Number(text);
  const held = Number.isFinite(number) ? parseDecimal(String(number)) : undefined;
  if (held && sameDecimal(held, written) && storableNumber(number)) return number === 0 ? 0 : number;
  return decimalString(written);
}

function fromNumber(value: number, kind: NumberKind): Converted<number> {
  if (kind === 'integer' && Number.isFinite(value) && !Number.isInteger(value)) return unreadable;
  if (!storableNumber(value)) return notStorable;
  return value === 0 ? 0 : value; // -0 and 0 are one value to a user
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
 * (null, '', [], {} or no attributes), which clears the field.
 */
function relationAttributes(value: unknown): Converted<Record<string, unknown>> {
  if (value === null || value === '' || (Array.isArray(value) && value.length === 0)) return null;
  if (!isRecord(value)) return unreadable;
  const attributes = value['attributes'];
  if (attributes === undefined || (isRecord(attributes) && Object.keys(attributes).length === 0)) return null;
  if (!isRecord(attributes)) return unreadable;
  return attributes;
}

/** The `name` inside team / department / office; an empty relation (null, {}, []) clears the field. */
export function toOrgName(value: unknown): Converted<string> {
  const attributes = relationAttributes(value);
  if (attributes === null || attributes instanceof Unusable) return attributes;
  return toText(unwrap(attributes['name']));
}

/** The supervisor's Personio id from its wrapped attributes. */
export function toSupervisorId(value: unknown): Converted<number> {
  const attributes = relationAttributes(value);
  if (attributes === null || attributes instanceof Unusable) return attributes;
  const id = toNumber(unwrap(attributes['id']), 'integer');
  if (id === null || id instanceof Unusable) return id;
  // A Personio id is a positive safe integer; a digit string too long for one names nobody.
  return typeof id === 'number' && id > 0 ? id : unreadable;
}

export function toEmail(value: unknown): Converted<string> {
  const text = toText(value);
  if (text === null || text instanceof Unusable) return text;
  // Personio treats emails case-insensitively and tenants type them in any case; Dado logins are lower-case.
  const email = text.toLowerCase();
  // local@domain with a dot inside the domain; checked without `[^@]+\.[^@]+$`, which backtracks quadratically.
  const domain = email.slice(email.indexOf('@') + 1);
  const dot = domain.indexOf('.', 1);
  return /^[^\s@]+@[^\s@]+$/.test(email) && dot > 0 && dot < domain.length - 1 ? email : unreadable;
}

export const statuses = ['onboarding', 'active', 'leave', 'inactive'] as const;
export type Status = (typeof statuses)[number];

/** A converter to one of `values`, compared case-insensitively. */
function toEnum<T extends string>(values: readonly T[]): (value: unknown) => Converted<T> {
  return (value) => {
    const text = toText(value);
    if (text === null || text instanceof Unusable) return text;
    const lower = text.toLowerCase();
    return (values as readonly string[]).includes(lower) ? (lower as T) : unreadable;
  };
}

export const toStatus = toEnum(statuses);

const employmentTypes = ['internal', 'external'] as const;
export const toEmploymentType = toEnum(employmentTypes);

/** Tags come as a comma-joined string (sometimes already a list). One unusable tag makes the list unusable. */
export function toTags(value: unknown): Converted<string[]> {
  if (value === null || value === '') return null;
  const parts = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  if (!parts) return unreadable;
  const tags: string[] = [];
  for (const part of parts) {
    const tag = toText(part);
    if (tag instanceof Unusable) return tag;
    if (tag !== null) tags.push(tag);
  }
  return tags;
}

/**
 * A custom attribute of a type the mapping has no converter for: booleans and null as they are,
 * numbers under the decimal rule (never a non-finite or unstorable one), anything else as text.
 */
export function toPlainValue(value: unknown): Converted<string | number | boolean> {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return toNumber(value, 'decimal');
  return toText(value);
}
