import * as z from 'zod';
import { runIdSchema } from '../runs/run.js';
import { mappingSchema } from '../mapping/mapping.js';
import { scheduleIntervalNames } from '../schedules/schedules.js';
import { tenantIdSchema } from '../tenants/tenant-id.js';
import { listAttributes } from './attributes.js';
import { connectTenant, disconnectTenant, getConnection } from './connect-tenant.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';
import { approveImport, getImport, startImport } from './imports.js';
import { MAX_PREVIEW, previewMapping, saveMapping } from './mapping.js';
import { setSchedule } from './schedule.js';

export type { ConnectDeps } from './deps.js';

export interface ApiRequest {
  method: string;
  path: string;
  /** The raw query string without `?` (API Gateway's rawQueryString), or undefined. */
  query?: string | undefined;
  /** Raw body text (already base64-decoded), or undefined. */
  body: string | undefined;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Bodies are a few hundred bytes (a mapping a few KiB); anything larger is a mistake or an attack. */
export const MAX_BODY_BYTES = 16 * 1024;

const credential = (name: string) =>
  z
    .string({ error: `${name} must be a string` })
    .trim()
    .min(1, `${name} must not be empty`)
    .max(512, `${name} is longer than 512 characters`);

const connectBody = z
  .object({
    clientId: credential('clientId'),
    clientSecret: credential('clientSecret'),
    // Recorded with the connection; Personio calls send the deployment's App ID (README, Connect API).
    appId: z
      .string({ error: 'appId must be a string' })
      .regex(/^[A-Z0-9_]{1,64}$/, 'appId must be UPPER_SNAKE_CASE, 1 to 64 characters')
      .optional(),
  })
  .strict();

const scheduleBody = z
  .object({
    enabled: z.boolean({ error: 'enabled must be true or false' }),
    every: z.enum(scheduleIntervalNames, { error: `every must be one of ${scheduleIntervalNames.join(', ')}` }).optional(),
  })
  .strict();

const noBody = z.object({}).strict();

const previewQuery = z
  .string()
  .regex(/^\d{1,3}$/, `preview must be a whole number from 1 to ${MAX_PREVIEW}`)
  .transform(Number)
  .refine((n) => n >= 1 && n <= MAX_PREVIEW, `preview must be a whole number from 1 to ${MAX_PREVIEW}`);

interface Params {
  tenantId: string;
  runId: string;
}

type Handler = (deps: ConnectDeps, params: Params, request: ApiRequest, query: URLSearchParams) => Promise<ApiResponse>;

interface Route {
  pattern: RegExp;
  /** Query parameters the route accepts; any other is refused. */
  query?: readonly string[];
  methods: Record<string, Handler>;
}

const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });

const routes: Route[] = [
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/?$/,
    methods: {
      PUT: async (deps, { tenantId }, request) => ok(await connectTenant(deps, tenantId, parseBody(request, connectBody))),
      GET: async (deps, { tenantId }, request) => {
        parseOptionalBody(request);
        return ok(await getConnection(deps, tenantId));
      },
      DELETE: async (deps, { tenantId }, request) => {
        parseOptionalBody(request);
        return ok(await disconnectTenant(deps, tenantId));
      },
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/attributes\/?$/,
    methods: {
      GET: async (deps, { tenantId }, request) => {
        parseOptionalBody(request);
        return ok(await listAttributes(deps, tenantId));
      },
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/mapping\/?$/,
    query: ['preview'],
    methods: {
      PUT: async (deps, { tenantId }, request, query) => {
        const preview = query.get('preview');
        const mapping = parseBody(request, mappingSchema);
        if (preview === null) return ok(await saveMapping(deps, tenantId, mapping));
        const limit = previewQuery.safeParse(preview);
        if (!limit.success) throw invalid([{ field: 'preview', message: limit.error.issues[0]?.message ?? 'invalid' }]);
        return ok(await previewMapping(deps, tenantId, mapping, limit.data));
      },
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/schedule\/?$/,
    methods: {
      PUT: async (deps, { tenantId }, request) => ok(await setSchedule(deps, tenantId, parseBody(request, scheduleBody))),
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/imports\/?$/,
    methods: {
      POST: async (deps, { tenantId }, request) => {
        parseOptionalBody(request);
        return ok(await startImport(deps, tenantId), 202);
      },
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/imports\/([^/]+)\/?$/,
    methods: {
      GET: async (deps, { tenantId, runId }, request) => {
        parseOptionalBody(request);
        return ok(await getImport(deps, tenantId, runId));
      },
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/imports\/([^/]+)\/approve\/?$/,
    methods: {
      POST: async (deps, { tenantId, runId }, request) => {
        parseOptionalBody(request);
        return ok(await approveImport(deps, tenantId, runId));
      },
    },
  },
];

/**
 * The connect API, free of Lambda types: routes a request, validates everything (path, query, body) before
 * it reaches Personio, Secrets Manager, Scheduler, Lambda or DynamoDB, and answers every error as
 * `{error: {code, message, details?}}`.
 */
export async function handleApiRequest(deps: ConnectDeps, request: ApiRequest): Promise<ApiResponse> {
  try {
    // Checked first: an oversized body is refused whatever the route.
    if (Buffer.byteLength(request.body ?? '') > MAX_BODY_BYTES) throw new ConnectError('body_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    for (const route of routes) {
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      const handler = route.methods[request.method.toUpperCase()];
      if (!handler)
        throw new ConnectError('method_not_allowed', `${request.method} is not supported on ${request.path}; use ${Object.keys(route.methods).join(' or ')}.`);
      const tenantId = parseTenantId(match[1] ?? '');
      const runId = match[2] === undefined ? '' : parseRunId(match[2]);
      const query = parseQuery(request.query, route.query ?? []);
      return await handler(deps, { tenantId, runId }, request, query);
    }
    throw new ConnectError('not_found', `No route for ${request.method} ${request.path}. The API's routes start with /tenants/{tenantId}/personio.`);
  } catch (error) {
    if (error instanceof ConnectError) return errorResponse(error);
    throw error;
  }
}

export function errorResponse(error: ConnectError): ApiResponse {
  return {
    status: error.status,
    body: { error: { code: error.code, message: error.message, ...(error.details !== undefined ? { details: error.details } : {}) } },
  };
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function parseTenantId(raw: string): string {
  const parsed = tenantIdSchema.safeParse(decode(raw));
  if (!parsed.success)
    throw new ConnectError('invalid_tenant_id', `tenantId: ${parsed.error.issues[0]?.message ?? 'invalid'}.`, [
      { field: 'tenantId', message: parsed.error.issues[0]?.message ?? 'invalid' },
    ]);
  return parsed.data;
}

function parseRunId(raw: string): string {
  const parsed = runIdSchema.safeParse(decode(raw));
  if (!parsed.success) throw invalid([{ field: 'runId', message: parsed.error.issues[0]?.message ?? 'invalid' }]);
  return parsed.data;
}

function parseQuery(raw: string | undefined, allowed: readonly string[]): URLSearchParams {
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

function invalid(details: { field: string; message: string }[]): ConnectError {
  return new ConnectError('invalid_request', details.map((d) => `${d.field}: ${d.message}`).join('; '), details);
}

/** Routes that take no body accept none, an empty one, or `{}`. */
function parseOptionalBody(request: ApiRequest): void {
  if ((request.body ?? '').trim() === '') return;
  parseBody(request, noBody);
}

function parseBody<S extends z.ZodType>(request: ApiRequest, schema: S): z.output<S> {
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
