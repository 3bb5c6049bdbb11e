import { z } from 'zod';
import { tenantIdSchema } from '../tenants/tenant-id.js';
import { connectTenant, getConnection, type ConnectDeps } from './connect-tenant.js';
import { ConnectError } from './errors.js';

export interface ApiRequest {
  method: string;
  path: string;
  /** Raw body text (already base64-decoded), or undefined. */
  body: string | undefined;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Bodies are a few hundred bytes; anything larger is a mistake or an attack. */
export const MAX_BODY_BYTES = 16 * 1024;

const credential = (name: string) =>
  z
    .string({ error: `${name} must be a string` })
    .trim()
    .min(1, `${name} must not be empty`)
    .max(512, `${name} is longer than 512 characters`);

const connectBody = z.object({ clientId: credential('clientId'), clientSecret: credential('clientSecret') }).strict();

type Handler = (deps: ConnectDeps, tenantId: string, request: ApiRequest) => Promise<ApiResponse>;

const routes: { pattern: RegExp; methods: Record<string, Handler> }[] = [
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/?$/,
    methods: {
      PUT: async (deps, tenantId, request) => ({ status: 200, body: await connectTenant(deps, tenantId, parseBody(request, connectBody)) }),
      GET: async (deps, tenantId) => ({ status: 200, body: await getConnection(deps, tenantId) }),
    },
  },
];

/**
 * The connect API, free of Lambda types: routes a request, validates everything before it reaches
 * Personio, Secrets Manager or DynamoDB, and answers every error as `{error: {code, message, details?}}`.
 */
export async function handleApiRequest(deps: ConnectDeps, request: ApiRequest): Promise<ApiResponse> {
  try {
    for (const route of routes) {
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      const handler = route.methods[request.method.toUpperCase()];
      if (!handler) throw new ConnectError('method_not_allowed', `${request.method} is not supported on ${request.path}; use ${Object.keys(route.methods).join(' or ')}.`);
      return await handler(deps, parseTenantId(match[1] ?? ''), request);
    }
    throw new ConnectError('not_found', `No route for ${request.method} ${request.path}.`);
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

function parseTenantId(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = raw;
  }
  const parsed = tenantIdSchema.safeParse(decoded);
  if (!parsed.success) throw new ConnectError('invalid_tenant_id', `tenantId: ${parsed.error.issues[0]?.message ?? 'invalid'}.`);
  return parsed.data;
}

function parseBody<S extends z.ZodType>(request: ApiRequest, schema: S): z.output<S> {
  const text = request.body ?? '';
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new ConnectError('body_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConnectError('invalid_json', 'The body is not valid JSON.');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    // Issues name the field and the rule, never the value (it may be a secret).
    const details = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.code === 'unrecognized_keys' ? `unknown field(s): ${(i as { keys: string[] }).keys.join(', ')}` : i.message }));
    throw new ConnectError('invalid_request', details.map((d) => `${d.field}: ${d.message}`).join('; '), details);
  }
  return parsed.data;
}
