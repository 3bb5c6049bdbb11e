import { parsePersonioDate } from './data.js';
import { replies, type Reply } from './responses.js';
import type { EmployeeStore } from './store.js';

/** Personio v1's employee endpoints: request parsing and the ready-made answers, kept out of the server's routing. */

const DEFAULT_LIMIT = 50; // what Personio serves when `limit` is omitted (pagination adoption guide)
const MAX_LIMIT = 100;
const LIST_TAIL = Buffer.from(']}');
const ONE_HEAD = Buffer.from('{"success":true,"data":');
const ONE_TAIL = Buffer.from('}');

export function listReply(store: EmployeeStore, url: URL, readable: ReadonlySet<string> | null, hidden: ReadonlySet<number>): Reply {
  const params = url.searchParams;
  const limitRaw = params.get('limit');
  const limit = limitRaw === null ? DEFAULT_LIMIT : /^\d+$/.test(limitRaw) ? Number(limitRaw) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) return replies.unprocessable(`The limit must be between 1 and ${MAX_LIMIT}.`);
  const offsetRaw = params.get('offset');
  const offset = offsetRaw === null ? 0 : /^\d+$/.test(offsetRaw) ? Number(offsetRaw) : Number.NaN;
  if (!Number.isSafeInteger(offset)) return replies.unprocessable('The offset must be an integer greater than or equal to 0.');
  const sinceRaw = params.get('updated_since');
  const since = sinceRaw === null || sinceRaw === '' ? null : parsePersonioDate(sinceRaw);
  // A `+` left unencoded in a time-zone offset arrives as a space and fails here, as against any strict server.
  if (since !== null && Number.isNaN(since)) return replies.unprocessable('The updated_since must be a valid ISO 8601 date.');
  const email = params.get('email');
  const projected = params.getAll('attributes[]').filter((key) => key !== '');

  const { total, parts } = store.page({
    offset,
    limit,
    email: email === null || email === '' ? null : email,
    updatedSinceMs: since,
    projection: projected.length > 0 ? new Set(projected) : null,
    readable,
    hidden,
  });
  const metadata = `{"total_elements":${total},"current_page":${Math.floor(offset / limit)},"total_pages":${Math.ceil(total / limit)}}`;
  const head = Buffer.from(`{"success":true,"metadata":${metadata},"offset":${offset},"limit":${limit},"data":[`);
  const body = Buffer.concat([head, ...parts, LIST_TAIL]);
  return { status: 200, body, contentType: 'application/json' };
}

export function oneReply(store: EmployeeStore, id: number, readable: ReadonlySet<string> | null): Reply {
  const parts = store.one(id, readable);
  if (parts === undefined) return replies.notFound();
  return { status: 200, body: Buffer.concat([ONE_HEAD, ...parts, ONE_TAIL]), contentType: 'application/json' };
}

export type EmployeesEndpoint = { kind: 'list' } | { kind: 'attributes' } | { kind: 'one'; id: number };

export function employeesEndpoint(path: string): EmployeesEndpoint | undefined {
  if (path === '/v1/company/employees') return { kind: 'list' };
  // `/custom-attributes` is the old name, still served for backward compatibility (NOTES.md §2.5).
  if (path === '/v1/company/employees/attributes' || path === '/v1/company/employees/custom-attributes') return { kind: 'attributes' };
  const id = /^\/v1\/company\/employees\/(\d{1,15})$/.exec(path)?.[1];
  return id === undefined ? undefined : { kind: 'one', id: Number(id) };
}

export function credentialFields(contentType: string, body: string): { client_id?: string; client_secret?: string } {
  const text = body.trim();
  if (text === '') return {};
  if (contentType.includes('json') || text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null) return {};
      const record = parsed as Record<string, unknown>;
      return {
        ...(typeof record['client_id'] === 'string' ? { client_id: record['client_id'] } : {}),
        ...(typeof record['client_secret'] === 'string' ? { client_secret: record['client_secret'] } : {}),
      };
    } catch {
      return {};
    }
  }
  const form = new URLSearchParams(text);
  return {
    ...(form.has('client_id') ? { client_id: form.get('client_id') ?? '' } : {}),
    ...(form.has('client_secret') ? { client_secret: form.get('client_secret') ?? '' } : {}),
  };
}
