import * as z from 'zod';
import { mappingSchema } from '../mapping/mapping.js';
import { scheduleIntervalNames } from '../schedules/schedules.js';
import { listAttributes } from './attributes.js';
import { DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE } from './audit.js';
import { authorizeCaller, parseActor, type IamCaller, type Who } from './caller.js';
import { connectTenant, disconnectTenant, getConnection } from './connect-tenant.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';
import { approveImport, getImport, startImport } from './imports.js';
import { MAX_PREVIEW, previewMapping, saveMapping } from './mapping.js';
import { MAX_BODY_BYTES, parseBody, parseNumber, parseOptionalBody, parseQuery, parseRunId, parseTenantId, wholeNumber } from './request.js';
import { setSchedule } from './schedule.js';

export type { ConnectDeps } from './deps.js';
export { MAX_BODY_BYTES } from './request.js';

export interface ApiRequest {
  method: string;
  path: string;
  /** The raw query string without `?` (API Gateway's rawQueryString), or undefined. */
  query?: string | undefined;
  /** Raw body text (already base64-decoded), or undefined. */
  body: string | undefined;
  /** The signer as API Gateway's IAM authorization saw it (`requestContext.authorizer.iam`); without it, 403. */
  caller?: IamCaller | null | undefined;
  /** The X-Dado-Actor header as sent: the admin a change is made for. */
  actor?: string | undefined;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

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

const previewQuery = wholeNumber('preview', MAX_PREVIEW);
const limitQuery = wholeNumber('limit', MAX_AUDIT_PAGE);

interface Params {
  tenantId: string;
  runId: string;
}

/** `who` names the actor only for a request that changes something (a read gets an empty actor). */
type Handler = (deps: ConnectDeps, params: Params, request: ApiRequest, query: URLSearchParams, who: Who) => Promise<ApiResponse>;

interface Operation {
  /** A change must name its actor (X-Dado-Actor) and is recorded in the audit trail. */
  changes: (query: URLSearchParams) => boolean;
  run: Handler;
}

interface Route {
  pattern: RegExp;
  /** Query parameters the route accepts; any other is refused. */
  query?: readonly string[];
  methods: Record<string, Operation>;
}

const read = (run: Handler): Operation => ({ changes: () => false, run });
const change = (run: Handler): Operation => ({ changes: () => true, run });

const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });

const routes: Route[] = [
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/?$/,
    methods: {
      PUT: change(async (deps, { tenantId }, request, _query, who) => ok(await connectTenant(deps, tenantId, parseBody(request, connectBody), who))),
      GET: read(async (deps, { tenantId }, request) => {
        parseOptionalBody(request);
        return ok(await getConnection(deps, tenantId));
      }),
      DELETE: change(async (deps, { tenantId }, request, _query, who) => {
        parseOptionalBody(request);
        return ok(await disconnectTenant(deps, tenantId, who));
      }),
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/attributes\/?$/,
    methods: {
      GET: read(async (deps, { tenantId }, request) => {
        parseOptionalBody(request);
        return ok(await listAttributes(deps, tenantId));
      }),
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/mapping\/?$/,
    query: ['preview'],
    methods: {
      // A preview changes nothing, so it needs no actor.
      PUT: {
        changes: (query) => !query.has('preview'),
        run: async (deps, { tenantId }, request, query, who) => {
          const preview = query.get('preview');
          const mapping = parseBody(request, mappingSchema);
          if (preview === null) return ok(await saveMapping(deps, tenantId, mapping, who));
          return ok(await previewMapping(deps, tenantId, mapping, parseNumber(previewQuery, 'preview', preview)));
        },
      },
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/schedule\/?$/,
    methods: {
      PUT: change(async (deps, { tenantId }, request, _query, who) => ok(await setSchedule(deps, tenantId, parseBody(request, scheduleBody), who))),
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/imports\/?$/,
    methods: {
      POST: change(async (deps, { tenantId }, request, _query, who) => {
        parseOptionalBody(request);
        return ok(await startImport(deps, tenantId, who), 202);
      }),
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/imports\/([^/]+)\/?$/,
    methods: {
      GET: read(async (deps, { tenantId, runId }, request) => {
        parseOptionalBody(request);
        return ok(await getImport(deps, tenantId, runId));
      }),
    },
  },
  {
    pattern: /^\/tenants\/([^/]+)\/personio\/imports\/([^/]+)\/approve\/?$/,
    methods: {
      POST: change(async (deps, { tenantId, runId }, request, _query, who) => {
        parseOptionalBody(request);
        return ok(await approveImport(deps, tenantId, runId, who));
      }),
    },
  },
  {
    // No connection needed: a disconnected (or never connected) tenant's history stays readable.
    pattern: /^\/tenants\/([^/]+)\/personio\/audit\/?$/,
    query: ['limit', 'cursor'],
    methods: {
      GET: read(async (deps, { tenantId }, request, query) => {
        parseOptionalBody(request);
        const limit = query.has('limit') ? parseNumber(limitQuery, 'limit', query.get('limit') ?? '') : DEFAULT_AUDIT_PAGE;
        return ok({ tenantId, ...(await deps.audit.list(tenantId, { limit, cursor: query.get('cursor') ?? undefined })) });
      }),
    },
  },
];

/**
 * The connect API, free of Lambda types: admits only the allowed caller roles, routes a request, requires an actor
 * for a change, validates everything (path, query, body) before it reaches Personio, Secrets Manager, Scheduler,
 * Lambda or DynamoDB, and answers every error as `{error: {code, message, details?}}`.
 */
export async function handleApiRequest(deps: ConnectDeps, request: ApiRequest): Promise<ApiResponse> {
  try {
    // First of all: a caller the deployment does not list learns nothing, not even which routes exist.
    const caller = authorizeCaller(deps.allowedCallers, request.caller);
    // Then an oversized body is refused whatever the route.
    if (Buffer.byteLength(request.body ?? '') > MAX_BODY_BYTES) throw new ConnectError('body_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    for (const route of routes) {
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      const operation = route.methods[request.method.toUpperCase()];
      if (!operation)
        throw new ConnectError('method_not_allowed', `${request.method} is not supported on ${request.path}; use ${Object.keys(route.methods).join(' or ')}.`);
      // A change without an actor is refused before its input is even looked at.
      const actor = operation.changes(new URLSearchParams(request.query ?? '')) ? parseActor(request.actor) : '';
      const tenantId = parseTenantId(match[1] ?? '');
      const runId = match[2] === undefined ? '' : parseRunId(match[2]);
      const query = parseQuery(request.query, route.query ?? []);
      return await operation.run(deps, { tenantId, runId }, request, query, { actor, caller });
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
