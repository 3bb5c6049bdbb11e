import { ApiError, type Json } from './http.js';

/**
 * The request checks of the EventBridge Scheduler stand-in (local/aws/scheduler.ts): the service's field types, lengths
 * and ranges, with its error names and messages, so a request the service would refuse is refused locally too.
 */

export const NAME = /^[0-9a-zA-Z_.-]{1,64}$/;
export const validation = (message: string) => new ApiError(400, 'ValidationException', message);

export function str(body: Json, field: string, required: boolean, max = 1600): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof value !== 'string') throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a string.`);
  if (value.length < 1 || value.length > max) {
    throw validation(`1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between 1 and ${max}`);
  }
  return value;
}

/** A timestamp field: epoch seconds on the wire. */
export function timestamp(body: Json, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a timestamp.`);
  return value;
}

export function obj(body: Json, field: string, required: boolean): Json | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a structure.`);
  return value as Json;
}

export function int(body: Json, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected an integer.`);
  if (value < min || value > max)
    throw validation(`1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must be between ${min} and ${max}`);
  return value;
}

/** rate(1 hour) | rate(5 minutes) | cron(six fields) | at(yyyy-mm-ddThh:mm:ss), as Scheduler accepts them. */
export function checkExpression(expression: string): void {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const plural = (rate[2] ?? '').endsWith('s');
    if (n >= 1 && plural === (n !== 1)) return;
  } else if (/^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/.test(expression) || /^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$/.test(expression)) {
    return;
  }
  throw validation(`Invalid Schedule Expression ${expression}.`);
}

/** A ListSchedules NextToken this stand-in issued: the base64url of the last listed `<group>/<name>`. */
export function decodeToken(token: string): string {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (token.length > 2048 || !/^[0-9a-zA-Z_.-]+\/[0-9a-zA-Z_.-]+$/.test(decoded)) throw validation('Invalid NextToken.');
  return decoded;
}
