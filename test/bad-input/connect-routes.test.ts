/**
 * Bad input against every route of the connect API, through the real connect Lambda handler (API Gateway v2
 * events) on the local stack: generated bodies (any JSON, not JSON, near-valid ones with one field broken, huge,
 * unicode, base64-encoded bytes), weird path parameters, methods, query strings, callers and actors. Every answer must be a 2xx
 * exactly for a valid request (one the test's own model says the API must serve: well-formed, on a connected
 * tenant, for a run that exists), otherwise a 4xx (never a 5xx) with a stable `{error: {code, message}}` that
 * docs/openapi.yaml lists, and a rejected request must store nothing: no secret written, no schedule written, no
 * fetch invoked, no connection, run or user row changed.
 */
import type { APIGatewayEventRequestContextIAMAuthorizer, APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusByCode, type ConnectErrorCode } from '../../lib/connect/errors.js';
import { MAX_PREVIEW } from '../../lib/connect/mapping.js';
import { userFieldNames } from '../../lib/mapping/mapping.js';
import { scheduleIntervalNames } from '../../lib/schedules/schedules.js';
import { LOCAL_ACCOUNT_ID } from '../../local/aws/identity.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { openapi, specViolations } from '../helpers/connect-support.js';
import { httpEvent, iamCaller } from '../helpers/events.js';
import { anyBodyText, anyJsonValue, hugeString, isPlainObject, nonString, storedState, tryParse, weirdString } from './support.js';

const TENANT = 'fuzz-co';
const UNCONNECTED = 'ghost-co';
const CREDENTIALS = { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' };
/** Well-formed, but no such run exists (the routes' property uses the tenant's real, completed run). */
const RUN_ID = '20250301T120000.123Z-1a2b3c4d';
const MAX_BODY_BYTES = 16 * 1024;
const NUM_RUNS = 30;

// ---- the routes and, independently of lib/connect, what a valid request to each looks like ---------------

type BodyKind = 'connect' | 'mapping' | 'schedule' | 'none';

interface RouteCase {
  method: string;
  /** As in docs/openapi.yaml. */
  template: string;
  body: BodyKind;
  /** Whether a valid request changes what is stored (such routes only get invalid bodies here). */
  mutates: boolean;
  query?: 'preview' | 'audit';
}

const ROUTES: RouteCase[] = [
  { method: 'PUT', template: '/tenants/{tenantId}/personio', body: 'connect', mutates: true },
  { method: 'GET', template: '/tenants/{tenantId}/personio', body: 'none', mutates: false },
  { method: 'DELETE', template: '/tenants/{tenantId}/personio', body: 'none', mutates: true },
  { method: 'GET', template: '/tenants/{tenantId}/personio/attributes', body: 'none', mutates: false },
  { method: 'PUT', template: '/tenants/{tenantId}/personio/mapping', body: 'mapping', mutates: true, query: 'preview' },
  { method: 'PUT', template: '/tenants/{tenantId}/personio/schedule', body: 'schedule', mutates: true },
  { method: 'POST', template: '/tenants/{tenantId}/personio/imports', body: 'none', mutates: true },
  { method: 'GET', template: '/tenants/{tenantId}/personio/imports/{runId}', body: 'none', mutates: false },
  { method: 'POST', template: '/tenants/{tenantId}/personio/imports/{runId}/approve', body: 'none', mutates: true },
  { method: 'GET', template: '/tenants/{tenantId}/personio/audit', body: 'none', mutates: false, query: 'audit' },
];

/** The local stage's allowed caller role's name (LOCAL_CALLER_ROLE_ARN), and what an actor may look like. */
const ALLOWED_ROLE = 'dado-backend-local';
const ACTOR = /^[A-Za-z0-9._:@-]{1,128}$/;

const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const RUN_ID_SHAPE = /^\d{8}T\d{6}(?:\.\d{3})?Z-[0-9a-f]{8}$/;
const APP_ID = /^[A-Z0-9_]{1,64}$/;
const ATTRIBUTE_KEY = /^[a-z][a-z0-9_]{0,99}$/;
const CUSTOM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const DYNAMIC_KEY = /^dynamic_\d+$/;

const keysWithin = (value: Record<string, unknown>, allowed: readonly string[]) => Object.keys(value).every((k) => allowed.includes(k));
const credential = (v: unknown) => typeof v === 'string' && v.trim().length >= 1 && v.trim().length <= 512;

/** What the connect API's contract (README, docs/openapi.yaml) accepts as a body, written out independently of its zod schemas. */
const validBody: Record<BodyKind, (json: unknown) => boolean> = {
  connect: (v) =>
    isPlainObject(v) &&
    keysWithin(v, ['clientId', 'clientSecret', 'appId']) &&
    credential(v['clientId']) &&
    credential(v['clientSecret']) &&
    (v['appId'] === undefined || (typeof v['appId'] === 'string' && APP_ID.test(v['appId']))),
  schedule: (v) =>
    isPlainObject(v) &&
    keysWithin(v, ['enabled', 'every']) &&
    typeof v['enabled'] === 'boolean' &&
    (v['every'] === undefined || (scheduleIntervalNames as readonly unknown[]).includes(v['every'])),
  mapping: (v) => {
    if (!isPlainObject(v) || !keysWithin(v, ['fields', 'customFields']) || !isPlainObject(v['fields'])) return false;
    const fields = v['fields'];
    if (Object.keys(fields).length !== userFieldNames.length || !userFieldNames.every((f) => Object.hasOwn(fields, f))) return false;
    if (!Object.values(fields).every((s) => s === null || (typeof s === 'string' && ATTRIBUTE_KEY.test(s))) || fields['email'] === null) return false;
    const custom = v['customFields'];
    if (custom === undefined) return true;
    return (
      isPlainObject(custom) &&
      Object.entries(custom).every(([name, s]) => CUSTOM_NAME.test(name) && typeof s === 'string' && ATTRIBUTE_KEY.test(s) && DYNAMIC_KEY.test(s))
    );
  },
  none: (v) => isPlainObject(v) && Object.keys(v).length === 0,
};

function bodyIsValid(kind: BodyKind, text: string | undefined): boolean {
  if (Buffer.byteLength(text ?? '') > MAX_BODY_BYTES) return false;
  if (kind === 'none' && (text ?? '').trim() === '') return true;
  const parsed = tryParse(text);
  return parsed.ok && validBody[kind](parsed.value);
}

function queryIsValid(route: RouteCase, query: string): boolean {
  const params = new URLSearchParams(query);
  const names = [...params.keys()];
  if (route.query === 'audit') {
    // No generated cursor is one the API gave.
    if (names.some((n) => n !== 'limit') || names.length > 1) return false;
    const limit = params.get('limit');
    return limit === null || (/^\d{1,3}$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 100);
  }
  if (names.some((n) => n !== route.query)) return false;
  if (names.length === 0) return true;
  if (names.length > 1) return false;
  const preview = params.get('preview') ?? '';
  return /^\d{1,3}$/.test(preview) && Number(preview) >= 1 && Number(preview) <= MAX_PREVIEW;
}

/**
 * Whether a well-formed request must be served (2xx) rather than refused: the tenant is connected (connect itself
 * excepted), a run route names the run that exists (completed, so approving it is refused: 409 run_not_held), and a
 * mapping maps only attributes the credential can read.
 */
function servable(
  route: RouteCase,
  tenant: string,
  text: string | undefined,
  state: { connected: ReadonlySet<string>; readable: ReadonlySet<string> },
): boolean {
  if (route.body === 'connect') return true;
  // Any tenant has an audit trail (empty when it never connected).
  if (route.query === 'audit') return true;
  if (!state.connected.has(decodeSegment(tenant))) return false;
  if (route.template.endsWith('/approve')) return false;
  if (route.body !== 'mapping') return true;
  const parsed = tryParse(text);
  if (!parsed.ok || !isPlainObject(parsed.value)) return false;
  const sources = [
    ...Object.values(parsed.value['fields'] as Record<string, unknown>),
    ...Object.values((parsed.value['customFields'] as Record<string, unknown> | undefined) ?? {}),
  ];
  return sources.every((source) => source === null || state.readable.has(String(source)));
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) is kept as it is. */
const encodeSegment = (raw: string) => {
  try {
    return encodeURIComponent(raw);
  } catch {
    return raw;
  }
};

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

// ---- generators ------------------------------------------------------------------------------------------

/** A request body as API Gateway delivers it: text, or base64 (`isBase64Encoded`), possibly of bytes that are not UTF-8. */
interface WireBody {
  raw: string | undefined;
  isBase64Encoded: boolean;
}
const decoded = (b: WireBody) => (b.raw === undefined ? undefined : b.isBase64Encoded ? Buffer.from(b.raw, 'base64').toString('utf8') : b.raw);

const omit = (value: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== key));
const withField = (value: Record<string, unknown>, key: string, v: unknown) => ({ ...value, [key]: v });
const blank = fc.constantFrom('', ' ', '\t\n', '\u00a0\u2003', '\ufeff');
const tooLong = fc.tuple(fc.integer({ min: 513, max: 900 }), fc.constantFrom('k', 'é', '💥')).map(([n, c]) => c.repeat(n));
const nonBoolean = fc.oneof(
  nonString.filter((v) => typeof v !== 'boolean'),
  fc.constantFrom('true', 'false', 0, 1),
);
const extraKey = (allowed: readonly string[]) => weirdString(20).filter((k) => !allowed.includes(k));

/** A valid body with exactly one thing broken, so that it is invalid by construction. */
function nearValid(kind: BodyKind, mapping: Record<string, unknown>): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'connect': {
      const valid = { ...CREDENTIALS, appId: 'ACME_HR' };
      const allowed = Object.keys(valid);
      const badCredential = fc.oneof(nonString, blank, tooLong);
      return fc.oneof(
        fc.constantFrom('clientId', 'clientSecret').map((k) => omit(valid, k)),
        fc.tuple(fc.constantFrom('clientId', 'clientSecret'), badCredential).map(([k, v]) => withField(valid, k, v)),
        fc
          .oneof(
            nonString,
            weirdString().filter((s) => !APP_ID.test(s)),
          )
          .map((v) => withField(valid, 'appId', v)),
        fc.tuple(extraKey(allowed), anyJsonValue).map(([k, v]) => withField(valid, k, v)),
        fc.tuple(fc.constantFrom(...allowed), hugeString).map(([k, v]) => withField(valid, k, v)),
        fc.constantFrom([valid], JSON.stringify(valid), null),
      );
    }
    case 'schedule': {
      const valid = { enabled: true, every: 'daily' };
      const allowed = Object.keys(valid);
      return fc.oneof(
        fc.constant(omit(valid, 'enabled')),
        nonBoolean.map((v) => withField(valid, 'enabled', v)),
        fc
          .oneof(
            nonString,
            weirdString().filter((s) => !(scheduleIntervalNames as readonly string[]).includes(s)),
          )
          .map((v) => withField(valid, 'every', v)),
        fc.tuple(extraKey(allowed), anyJsonValue).map(([k, v]) => withField(valid, k, v)),
        hugeString.map((v) => withField(valid, 'every', v)),
        fc.constantFrom([valid], JSON.stringify(valid), null),
      );
    }
    case 'mapping': {
      const fields = mapping['fields'] as Record<string, unknown>;
      const withMappingField = (k: string, v: unknown) => ({ ...mapping, fields: { ...fields, [k]: v } });
      const badKey = fc.oneof(
        nonString.filter((v) => v !== null),
        weirdString().filter((s) => !ATTRIBUTE_KEY.test(s)),
      );
      return fc.oneof(
        fc.constant(omit(mapping, 'fields')),
        fc
          .oneof(fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.string(), fc.constant({}))
          .map((v) => withField(mapping, 'fields', v)),
        fc.tuple(fc.constantFrom(...userFieldNames), badKey).map(([k, v]) => withMappingField(k, v)),
        fc.constant(withMappingField('email', null)),
        fc.constantFrom(...userFieldNames).map((k) => ({ ...mapping, fields: omit(fields, k) })),
        extraKey(userFieldNames).map((k) => withMappingField(k, 'first_name')),
        fc
          .oneof(
            nonString.filter((v) => !isPlainObject(v) && v !== undefined),
            fc.string(),
          )
          .map((v) => withField(mapping, 'customFields', v)),
        weirdString()
          .filter((s) => !CUSTOM_NAME.test(s))
          .map((name) => withField(mapping, 'customFields', { [name]: 'dynamic_1' })),
        fc
          .oneof(
            nonString,
            weirdString().filter((s) => !DYNAMIC_KEY.test(s)),
          )
          .map((v) => withField(mapping, 'customFields', { Shoe: v })),
        fc.tuple(extraKey(['fields', 'customFields']), anyJsonValue).map(([k, v]) => withField(mapping, k, v)),
        hugeString.map((v) => withMappingField('position', v)),
        fc.constantFrom([mapping], JSON.stringify(mapping), null),
      );
    }
    case 'none':
      return fc.oneof(
        fc.constantFrom([], null, '', 0, true, '{}', [{}]),
        fc.dictionary(weirdString(10), anyJsonValue, { minKeys: 1, maxKeys: 3 }),
        hugeString.map((v) => ({ x: v })),
      );
  }
}

function bodies(kind: BodyKind, mapping: Record<string, unknown>): fc.Arbitrary<WireBody> {
  const text = fc.oneof(
    { weight: 3, arbitrary: anyBodyText },
    { weight: 4, arbitrary: nearValid(kind, mapping).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom(' ', '{}', ' {} ', '\n', 'x'.repeat(MAX_BODY_BYTES + 1), ' '.repeat(MAX_BODY_BYTES + 1)) },
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(text, fc.boolean()).map(([t, b64]) => ({ raw: b64 ? Buffer.from(t).toString('base64') : t, isBase64Encoded: b64 })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ raw: Buffer.from(bytes).toString('base64'), isBase64Encoded: true })) },
    { weight: 1, arbitrary: fc.constant({ raw: undefined, isBase64Encoded: false }) },
  );
}

const queries = (route: RouteCase): fc.Arbitrary<string> =>
  route.query === 'audit'
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constant('') },
        fc.constantFrom(
          'limit=5',
          'limit=100',
          'limit=0',
          'limit=101',
          'limit=abc',
          'limit=',
          'limit=1&limit=2',
          'limit=%35',
          'cursor=',
          'cursor=abc',
          'preview=5',
        ),
        weirdString(20).map((v) => `cursor=${encodeSegment(v)}`),
        weirdString(20).map((v) => `limit=${encodeSegment(v)}`),
      )
    : route.query
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant('') },
          fc.constantFrom(
            'preview=5',
            `preview=${MAX_PREVIEW}`,
            'preview=0',
            'preview=51',
            'preview=abc',
            'preview=',
            'preview=1&preview=2',
            'preview=1e1',
            'preview=%31',
            'limit=5',
          ),
          weirdString(20).map((v) => `preview=${encodeSegment(v)}`),
        )
      : fc.oneof({ weight: 4, arbitrary: fc.constant('') }, fc.constantFrom('preview=5', 'x=1', '=', '&&', 'a&a'), weirdString(20));

// ---- calling the handler ---------------------------------------------------------------------------------

interface Call {
  method: string;
  path: string;
  query: string;
  body: WireBody;
  /** Default: the local caller role, and LOCAL_ACTOR on a change (httpEvent's defaults). */
  caller?: APIGatewayEventRequestContextIAMAuthorizer['iam'] | null;
  actor?: string | null;
}

interface Outcome {
  status: number;
  /** The parsed answer: what an operation answers, or `{error: {code, message}}` from 400 on. */
  json: unknown;
}

/** What an error answer carries (docs/openapi.yaml's Error). */
interface ApiError {
  code: string;
  message: string;
  details?: unknown;
}

/** The `error` of an answer shaped `{error: {code, message}}`, otherwise undefined. */
function errorOf(json: unknown): ApiError | undefined {
  const error = isPlainObject(json) ? json['error'] : undefined;
  return isPlainObject(error) && typeof error['code'] === 'string' && typeof error['message'] === 'string'
    ? { code: error['code'], message: error['message'], details: error['details'] }
    : undefined;
}

function fillPath(template: string, tenantId: string, runId = RUN_ID): string {
  return template.replace('{tenantId}', tenantId).replace('{runId}', runId);
}

describe('the connect API under bad input', () => {
  let env: LocalEnvironment;
  let mapping: Record<string, unknown>;
  /** The connected tenant's completed run. */
  let runId: string;
  /** The model's view of the stack: tenants connected, attributes the credential can read. */
  const state = { connected: new Set<string>([TENANT]), readable: new Set<string>() };

  beforeAll(async () => {
    env = await startLocalEnvironment({
      simulator: { employees: 5, authPerMinute: 1_000_000, employeesPerMinute: 1_000_000, employeesPerSecond: 1_000_000, ipPerMinute: 1_000_000 },
    });
    const connected = await env.handlers.connect(httpEvent('PUT', `/tenants/${TENANT}/personio`, CREDENTIALS));
    expect(connected.statusCode).toBe(200);
    const body = JSON.parse(connected.body ?? '{}') as { mapping: Record<string, unknown>; readableAttributes: { key: string }[] };
    mapping = body.mapping;
    for (const { key } of body.readableAttributes) state.readable.add(key);
    expect(state.readable.size).toBeGreaterThan(0);
    const report = await runImport(env, TENANT, { timeoutMs: 60_000 });
    expect(report.status).toBe('completed');
    runId = report.runId;
    await env.eventSource.stop();
  }, 90_000);

  afterAll(async () => {
    await env?.stack.lambda.idle();
    await env?.stop();
  });

  it('covers every operation docs/openapi.yaml lists', () => {
    // Assess: a route added to the API without being added here fails this test
    const listed = Object.entries(openapi.paths).flatMap(([template, operations]) =>
      Object.keys(operations)
        .filter((m) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
        .map((m) => `${m.toUpperCase()} ${template}`),
    );
    expect(ROUTES.map((r) => `${r.method} ${r.template}`).sort()).toEqual(listed.sort());
  });

  /** Calls the real handler; whatever it answers must be a well-formed answer of the API (never a throw). */
  async function call({ method, path, query, body, caller, actor }: Call): Promise<Outcome> {
    const event: APIGatewayProxyEventV2 = {
      ...httpEvent(method, path, body.raw, { query, ...(caller !== undefined ? { caller } : {}), ...(actor !== undefined ? { actor } : {}) }),
      isBase64Encoded: body.isBase64Encoded,
    };
    const response = await env.handlers.connect(event);
    const status = response.statusCode ?? 0;
    expect(response.headers?.['content-type']).toBe('application/json');
    const json: unknown = JSON.parse(response.body ?? '');
    const error = errorOf(json);
    if (status >= 400) {
      expect(json, `${method} ${path}`).toEqual({ error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }) });
      expect(statusByCode[error!.code as ConnectErrorCode], `code ${error!.code} with ${status}`).toBe(status);
      expect(error!.message.length).toBeGreaterThan(0);
    }
    // An oversized body is refused before routing, so also on paths the API does not have.
    if (!(status === 413 && error?.code === 'body_too_large')) expect(specViolations(method.toUpperCase(), path, status, json)).toEqual([]);
    return { status, json };
  }

  /** The property shared by every case: 2xx exactly when `valid`, otherwise a 4xx that left everything as it was. */
  async function expectRejectedOrValid(request: Call, valid: boolean, options: { readOnly?: boolean } = {}): Promise<Outcome> {
    // Prepare
    const before = await storedState(env);

    // Act
    const outcome = await call(request);

    // Assess
    expect(outcome.status, JSON.stringify(outcome.json)).toBeLessThan(500);
    expect(outcome.status).toBeGreaterThanOrEqual(200);
    if (outcome.status < 300) expect(valid, `answered ${outcome.status} to an invalid request`).toBe(true);
    if (valid) expect(outcome.status, `answered ${outcome.status} ${JSON.stringify(outcome.json)} to a valid request`).toBeLessThan(300);
    if (outcome.status >= 400 || options.readOnly) expect(await storedState(env)).toEqual(before);
    return outcome;
  }

  describe.each(ROUTES)('$method $template', (route) => {
    it('answers any body with a 2xx exactly when it is valid, otherwise a 4xx error with a stable code, and stores nothing from a rejected one', async () => {
      // Mostly the connected tenant; also one never connected, and the connected one percent-encoded.
      const tenants = fc.constantFrom(TENANT, TENANT, TENANT, UNCONNECTED, TENANT.replace('f', '%66'));
      // Disconnecting or starting an import with a valid (empty) body would change the tenant under the next runs.
      const keepsTenant = route.body === 'none' && route.mutates && !route.template.endsWith('/approve');
      const wire = keepsTenant ? bodies(route.body, mapping).filter((b) => !bodyIsValid('none', decoded(b))) : bodies(route.body, mapping);
      // A valid request first (harmless to repeat on routes that keep the tenant), so the 2xx direction is always exercised.
      const validText: Record<BodyKind, string | undefined> = {
        connect: JSON.stringify(CREDENTIALS),
        mapping: JSON.stringify(mapping),
        schedule: JSON.stringify({ enabled: true, every: 'daily' }),
        none: undefined,
      };
      const examples: [string, WireBody, string, boolean][] = keepsTenant
        ? []
        : [false, true].map((slash): [string, WireBody, string, boolean] => [
            TENANT,
            { raw: validText[route.body], isBase64Encoded: false },
            route.query === 'preview' ? 'preview=5' : route.query === 'audit' ? 'limit=5' : '',
            slash,
          ]);
      let validSeen = 0;
      await fc.assert(
        fc.asyncProperty(tenants, wire, queries(route), fc.boolean(), async (tenant, body, query, trailingSlash) => {
          const path = fillPath(route.template, tenant, runId) + (trailingSlash ? '/' : '');
          const text = decoded(body);
          const valid =
            TENANT_ID.test(decodeSegment(tenant)) &&
            queryIsValid(route, query) &&
            bodyIsValid(route.body, text) &&
            (route.body !== 'connect' ||
              (() => {
                const v = tryParse(text);
                return (
                  v.ok &&
                  isPlainObject(v.value) &&
                  String(v.value['clientId']).trim() === CREDENTIALS.clientId &&
                  String(v.value['clientSecret']).trim() === CREDENTIALS.clientSecret
                );
              })()) &&
            servable(route, tenant, text, state);
          const outcome = await expectRejectedOrValid({ method: route.method, path, query, body }, valid, { readOnly: route.method === 'GET' });
          if (route.body === 'connect' && outcome.status < 300) state.connected.add(decodeSegment(tenant));
          if (valid) validSeen++;
        }),
        { numRuns: NUM_RUNS, examples },
      );
      // Approving a completed run is refused, so only the routes that keep the tenant and approve never see a valid request.
      if (!keepsTenant && !route.template.endsWith('/approve')) expect(validSeen).toBeGreaterThan(0);
    });
  });

  it('refuses a weird tenant id or run id in the path with 400 before touching anything', async () => {
    const routeArb = fc.constantFrom(...ROUTES);
    const badTenant = weirdString(80)
      .chain((s) => fc.constantFrom(s, encodeSegment(s), s.toUpperCase(), `${s}-`, `-${TENANT}`, `${TENANT}..`, `${TENANT}%2F..`, 'a'.repeat(65)))
      .filter((s) => s.length > 0 && !s.includes('/') && !TENANT_ID.test(decodeSegment(s)));
    const badRun = weirdString(40)
      .chain((s) => fc.constantFrom(s, encodeSegment(s), RUN_ID.toUpperCase(), `${RUN_ID}x`, RUN_ID.replace('T', '%54').slice(0, -1), '..'))
      .filter((s) => s.length > 0 && !s.includes('/') && !RUN_ID_SHAPE.test(decodeSegment(s)));
    const validBodies: Record<BodyKind, string | undefined> = {
      connect: JSON.stringify(CREDENTIALS),
      mapping: '',
      schedule: JSON.stringify({ enabled: true }),
      none: undefined,
    };
    await fc.assert(
      fc.asyncProperty(routeArb, badTenant, badRun, fc.boolean(), async (route, tenant, runId, breakRunId) => {
        const breaking = breakRunId && route.template.includes('{runId}');
        const path = fillPath(route.template, breaking ? TENANT : tenant, breaking ? runId : RUN_ID);
        const raw = route.body === 'mapping' ? JSON.stringify(mapping) : validBodies[route.body];
        const outcome = await expectRejectedOrValid({ method: route.method, path, query: '', body: { raw, isBase64Encoded: false } }, false);
        expect(outcome.status).toBe(400);
        expect(errorOf(outcome.json)?.code).toBe(breaking ? 'invalid_request' : 'invalid_tenant_id');
        if (breaking) expect(errorOf(outcome.json)?.details).toEqual([{ field: 'runId', message: expect.any(String) }]);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('answers an unknown method, path or query with a 4xx and stores nothing', async () => {
    const method = fc.oneof(
      fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'get', 'delete', 'Put'),
      weirdString(10).filter((m) => m.length > 0),
    );
    const segment = fc.oneof(fc.constantFrom(UNCONNECTED, 'personio', 'tenants', '..', '.', '%2F', 'imports', RUN_ID, 'approve', ''), weirdString(20));
    const path = fc.oneof(
      fc.webPath(),
      fc.array(segment, { maxLength: 7 }).map((parts) => `/${parts.join('/')}`),
      fc
        .tuple(segment, fc.constantFrom('', '/', '/x', '/personio/x', '/personio/imports/x/y', '/personio/mapping/preview'))
        .map(([t, rest]) => `/tenants/${t}${rest}`),
      weirdString(60),
    );
    await fc.assert(
      fc.asyncProperty(method, path, fc.oneof(fc.constant(''), weirdString(30)), bodies('none', {}), async (m, p, query, body) => {
        // Every path here names an unconnected tenant (or none), so no request can be valid.
        const outcome = await expectRejectedOrValid({ method: m, path: p, query, body }, false);
        expect(outcome.status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('answers any caller but the allowed role 403 on every route, whatever the request, and stores nothing', async () => {
    const account = fc.oneof(fc.constant(LOCAL_ACCOUNT_ID), fc.stringMatching(/^\d{12}$/), weirdString(14));
    const roleName = fc.oneof(
      fc.stringMatching(/^[\w+=,.@-]{1,64}$/).filter((n) => n.toLowerCase() !== ALLOWED_ROLE),
      fc.constantFrom(`${ALLOWED_ROLE}-x`, `x${ALLOWED_ROLE}`, `${ALLOWED_ROLE}/x`, ''),
    );
    const foreignRole = fc.tuple(account, roleName).map(([a, name]) => iamCaller(`arn:aws:iam::${a}:role/${name}`));
    // The allowed role's name, but signed elsewhere, or not as a role session at all.
    const lookalike = fc.oneof(
      fc
        .stringMatching(/^\d{12}$/)
        .filter((a) => a !== LOCAL_ACCOUNT_ID)
        .map((a) => iamCaller(`arn:aws:iam::${a}:role/${ALLOWED_ROLE}`)),
      fc.constantFrom(
        { ...iamCaller(), userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${ALLOWED_ROLE}` },
        { ...iamCaller(), userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${ALLOWED_ROLE}` },
        { ...iamCaller(), userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root` },
        { ...iamCaller(), accountId: '111111111111' },
        { ...iamCaller(), userArn: `${iamCaller().userArn} ` },
      ),
      weirdString(120).map((userArn) => ({ ...iamCaller(), userArn })),
    );
    const caller = fc.oneof(fc.constant(null), foreignRole, lookalike);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), caller, fc.boolean(), async (route, who, connected) => {
        // Even a request that would be served for the allowed role.
        const path = fillPath(route.template, connected ? TENANT : UNCONNECTED, runId);
        const raw = route.body === 'mapping' ? JSON.stringify(mapping) : route.body === 'connect' ? JSON.stringify(CREDENTIALS) : undefined;
        const outcome = await expectRejectedOrValid({ method: route.method, path, query: '', body: { raw, isBase64Encoded: false }, caller: who }, false);
        expect([outcome.status, errorOf(outcome.json)?.code]).toEqual([403, 'forbidden']);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('refuses a change without a well-formed X-Dado-Actor with 400 before anything else, and stores nothing', async () => {
    const changing = ROUTES.filter((r) => r.mutates);
    const actor = fc.oneof(
      fc.constant(null),
      weirdString(140).filter((a) => !ACTOR.test(a)),
      fc.constantFrom('', ' admin', 'admin 1', 'a'.repeat(129), 'admin,admin', 'admin\n', 'ädmin', '<script>'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...changing), actor, fc.constantFrom(TENANT, UNCONNECTED, 'NOT_VALID'), async (route, who, tenant) => {
        // A request that would be served for an admin, or one that is wrong in other ways too: the actor comes first.
        const path = fillPath(route.template, tenant, runId);
        const raw = route.body === 'mapping' ? JSON.stringify(mapping) : route.body === 'connect' ? JSON.stringify(CREDENTIALS) : '{"x": 1}';
        const outcome = await expectRejectedOrValid({ method: route.method, path, query: '', body: { raw, isBase64Encoded: false }, actor: who }, false);
        expect([outcome.status, errorOf(outcome.json)?.code]).toEqual([400, who === null ? 'actor_required' : 'invalid_actor']);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });
});
