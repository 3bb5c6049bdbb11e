import * as z from 'zod';
import { runIdSchema } from '../runs/run.js';
import { tenantIdSchema } from '../tenants/tenant-id.js';
import { ConnectError } from './errors.js';

/** Parsing what a request carries (path, query, body) into values or a ConnectError naming the field, never the value. */

/** Bodies are a few hundred bytes (a mapping a few KiB); anything larger is a mistake or an attack. */
export const MAX_BODY_BYTES = 16 * 1024;

const noBody = z.object({}).strict();

export const wholeNumber = (name: string, max: number) =>
  z
    .string()
    .regex(/^\d{1,3}$/, `${name} must be a whole number from 1 to ${max}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `${name} must be a whole number from 1 to ${max}`);

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function parseTenantId(raw: string): string {
  const parsed = tenantIdSchema.safeParse(decode(raw));
  if (!parsed.success)
    throw new ConnectError('invalid_tenant_id', `tenantId: ${parsed.error.issues[0]?.message ?? 'invalid'}.`, [
      { field: 'tenantId', message: parsed.error.issues[0]?.message ?? 'invalid' },
    ]);
  return parsed.data;
}

export function parseRunId(raw: string): string {
  const parsed = runIdSchema.safeParse(decode(raw));
  if (!parsed.success) throw invalid([{ field: 'runId', message: parsed.error.issues[0]?.message ?? 'invalid' }]);
  return parsed.data;
}

export function parseQuery(raw: string | undefined, allowed: readonly string[]): URLSearchParams {
  const query = new URLSearchParams(raw ?? '');
  const details: { field: string; message: string }[] = [];
  for (const name of new Set(query.keys())) {
    if (!allowed.includes(name))
      details.push({ field: name, message: `unknown query parameter${allowed.length > 0 ? ` (this route takes ${allowed.join(', ')})` : ''}` });
    else if (query.getAll(name).length > 1) details.push({ field: name, message: 'given more than once' });
  }
  if (details.length > 0) throw invalid(details);
  return query;
}

export function parseNumber(schema: z.ZodType<number, string>, field: string, raw: string): number {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid([{ field, message: parsed.error.issues[0]?.message ?? 'invalid' }]);
  return parsed.data;
}

export function invalid(details: { field: string; message: string }[]): ConnectError {
  return new ConnectError('invalid_request', details.map((d) => `${d.field}: ${d.message}`).join('; '), details);
}

/** Routes that take no body accept none, an empty one, or `{}`. */
export function parseOptionalBody(request: { body: string | undefined }): void {
  if ((request.body ?? '').trim() === '') return;
  parseBody(request, noBody);
}

export function parseBody<S extends z.ZodType>(request: { body: string | undefined }, schema: S): z.output<S> {
  const text = request.body ?? '';
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new ConnectError('body_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  if (text.trim() === '') throw invalid([{ field: '(body)', message: 'a JSON body is required' }]);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's own message quotes the input, which may hold a secret.
    throw new ConnectError('invalid_json', 'The body is not valid JSON.');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    // Issues name the field and the rule, never the value (it may be a secret).
    throw invalid(
      parsed.error.issues.map((i) => ({
        field: i.path.join('.') || '(body)',
        message: i.code === 'unrecognized_keys' ? `unknown field(s): ${(i as { keys: string[] }).keys.join(', ')}` : i.message,
      })),
    );
  }
  return parsed.data;
}
