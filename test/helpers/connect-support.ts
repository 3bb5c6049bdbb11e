/**
 * Shared by the connect tests (not a test file itself): calling the API through the real handler with every
 * answer checked against docs/openapi.yaml, deps wired to the local stack for direct calls, and a capture of
 * everything written to stdout/stderr (the handlers' log lines) to search for secrets.
 */
import { readFileSync } from 'node:fs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { parse } from 'yaml';
import type { ApiRequest } from '../../lib/connect/api.js';
import { AuditTrail } from '../../lib/connect/audit.js';
import { ConnectCredentials } from '../../lib/connect/credentials.js';
import type { ConnectDeps } from '../../lib/connect/deps.js';
import { ConnectSettingsStore } from '../../lib/connect/settings.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { LambdaFetchInvoker } from '../../lib/imports/invoker.js';
import { RunStore } from '../../lib/runs/store.js';
import { isFinalRunStatus, type RunReport } from '../../lib/runs/run.js';
import { EventBridgeSchedules } from '../../lib/schedules/eventbridge.js';
import { ConnectionStore } from '../../lib/tenants/connections.js';
import { UserStore } from '../../lib/users/store.js';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { startPersonioProxy } from './personio-proxy.js';
import { LOCAL_CALLER_ROLE_ARN } from '../../local/aws/identity.js';
import { localNames, type LocalEnvironment } from '../../local/runner/environment.js';
import { httpEvent, iamCaller, LOCAL_ACTOR } from './events.js';

// ---- the OpenAPI file ------------------------------------------------------------------------------------

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
}

export const openapi = parse(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')) as OpenApiDoc;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(openapi as object, 'openapi');

function resolvePointer(ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], openapi);
}

const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** A response schema with its `#/components/...` references pointed into the registered document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `openapi${v}` : rebase(v)]),
  );
}

const templates = Object.keys(openapi.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
}));

/** What is wrong with an answer according to docs/openapi.yaml (empty when it conforms). */
export function specViolations(method: string, path: string, status: number, body: unknown): string[] {
  const found = templates.find((t) => t.pattern.test(path));
  // A caller outside the allow-list is refused (403) before routing, so also on paths and methods the API lacks.
  if (!found) return status === 404 || status === 403 ? [] : [`${path} is not in docs/openapi.yaml`];
  const operation = openapi.paths[found.template]?.[method.toLowerCase()];
  if (!operation) return status === 405 || status === 403 ? [] : [`${method} ${found.template} is not in docs/openapi.yaml`];
  const listed = operation.responses[String(status)] as { $ref?: string; content?: Record<string, { schema: unknown }> } | undefined;
  // Shared responses (`$ref: '#/components/responses/Error'`) are resolved in the document.
  const response = listed?.$ref ? (resolvePointer(listed.$ref) as typeof listed) : listed;
  if (!response) return [`${method} ${found.template} answered ${status}, which docs/openapi.yaml does not list`];
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return [];
  const key = `${method} ${found.template} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rebase(schema) as object);
    validators.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${method} ${found.template} ${status}: ${e.instancePath || '(body)'} ${e.message ?? ''}`);
}

// ---- calling the API -------------------------------------------------------------------------------------

export interface Answer {
  status: number;
  /** The parsed answer, already checked against docs/openapi.yaml for its route and status (apiCaller fails the test otherwise). */
  // biome-ignore lint/suspicious/noExplicitAny: the shape depends on route and status and was just validated against docs/openapi.yaml at runtime; the connect tests read ~90 documented fields off it, which a static type would only restate
  body: any;
  raw: string;
}

/**
 * Calls the connect handler as API Gateway would (signed as the local caller role; a change names LOCAL_ACTOR unless
 * `as` says otherwise), and fails the test at once when the answer does not conform to docs/openapi.yaml. Every raw
 * answer is kept in `answers` for the secret searches.
 */
export function apiCaller(env: () => LocalEnvironment, answers: string[] = []) {
  return async (method: string, path: string, body?: unknown, query?: string, as: Omit<Parameters<typeof httpEvent>[3], 'query'> = {}): Promise<Answer> => {
    const event = httpEvent(method, path, body, { ...as, query: query ?? '' });
    const response = await env().handlers.connect(event);
    const raw = response.body ?? '';
    answers.push(raw);
    const parsed = raw === '' ? null : JSON.parse(raw);
    expect(specViolations(method, path, response.statusCode ?? 0, parsed)).toEqual([]);
    return { status: response.statusCode ?? 0, body: parsed, raw };
  };
}

/** "Import now" through the API: waits until the run is final, the queue drained and the fetch returned. */
export function importThroughApi(env: () => LocalEnvironment, call: ReturnType<typeof apiCaller>) {
  return async (tenantId: string): Promise<RunReport> => {
    const accepted = await call('POST', `/tenants/${tenantId}/personio/imports`);
    expect(accepted.status).toBe(202);
    const report = await eventually(
      async () => {
        const answer = await call('GET', `/tenants/${tenantId}/personio/imports/${accepted.body.runId}`);
        return answer.status === 200 && isFinalRunStatus(answer.body.status) && (await env().eventSource.depth()) === 0
          ? (answer.body as RunReport)
          : undefined;
      },
      30_000,
      `run ${accepted.body.runId}`,
    );
    await env().stack.lambda.idle();
    return report;
  };
}

// ---- deps for direct calls -------------------------------------------------------------------------------

/** What a direct handleApiRequest call needs to be let in and to make a change: the local caller role and an admin. */
export const asLocalAdmin: Pick<ApiRequest, 'caller' | 'actor'> = { caller: iamCaller(), actor: LOCAL_ACTOR };

/** A DynamoDB client that counts what reaches it. */
export function countingDb(db: DynamoDBDocumentClient = createDocumentClient()): Pick<DynamoDBDocumentClient, 'send'> & { calls: number } {
  const counting = {
    calls: 0,
    send: ((command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
      counting.calls++;
      return db.send(command);
    }) as DynamoDBDocumentClient['send'],
  };
  return counting;
}

/** The deps functions/connect.ts wires, on the local stack (call after startLocalEnvironment). */
export function connectDeps(overrides: Partial<ConnectDeps> = {}, db: Pick<DynamoDBDocumentClient, 'send'> = createDocumentClient()): ConnectDeps {
  const secrets = new SecretsManagerClient({});
  return {
    connections: new ConnectionStore(db, localNames.connectionsTable),
    settings: new ConnectSettingsStore(db, localNames.connectionsTable),
    runs: new RunStore(db, localNames.runsTable),
    users: new UserStore(db, localNames.usersTable),
    credentials: new ConnectCredentials(new CredentialsStore(secrets, localNames.secretPrefix), secrets),
    schedules: new EventBridgeSchedules(new SchedulerClient({}), {
      groupName: localNames.scheduleGroup,
      roleArn: process.env['SCHEDULER_ROLE_ARN'] ?? '',
      targetArn: process.env['FETCH_FUNCTION_ARN'] ?? '',
      flexibleWindowMinutes: 15,
    }),
    imports: new LambdaFetchInvoker(new LambdaClient({}), localNames.fetchFunction),
    // A test fails loudly when an entry cannot be stored (production logs it instead).
    audit: new AuditTrail(db, localNames.auditTable, (_entry, error) => {
      throw error;
    }),
    allowedCallers: [LOCAL_CALLER_ROLE_ARN],
    personio: { baseUrl: process.env['PERSONIO_BASE_URL'] ?? '', appId: 'DADO' },
    scheduleDefaults: { expression: 'rate(1 hour)', flexibleWindowMinutes: 15 },
    reconcileExpression: 'rate(1 day)',
    // As the handler reads it: registered only where the environment names the receiver.
    webhooks: { baseUrl: process.env['WEBHOOK_BASE_URL'] || undefined },
    deactivationThreshold: 0.2,
    now: () => new Date(),
    ...overrides,
  };
}

// ---- output capture --------------------------------------------------------------------------------------

/**
 * Records everything written to stdout and stderr (Powertools writes its JSON log lines there) while still
 * passing it on. Start it before the handlers log anything.
 */
export function captureOutput(options: { passThrough?: boolean } = {}): { text(): string; stop(): void } {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const wrap = (original: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    function (this: unknown, chunk: unknown, ...rest: unknown[]) {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      if (options.passThrough ?? true) return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    } as typeof process.stdout.write;
  process.stdout.write = wrap(originals.out, process.stdout);
  process.stderr.write = wrap(originals.err, process.stderr);
  return {
    text: () => chunks.join(''),
    stop: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/** The secrets (of those given) that occur in any of the texts. */
export function leakedSecrets(texts: readonly string[], secrets: readonly string[]): string[] {
  return secrets.filter((secret) => texts.some((text) => text.includes(secret)));
}

/** Waits until `check` answers something other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- rotating credentials in "Personio" ------------------------------------------------------------------

/**
 * Personio in front of the simulator, where an admin can rotate a credential's secret: afterwards
 * `/v1/auth` refuses the old secret and accepts the new one (the simulator itself knows one secret per
 * Client ID, so the proxy translates the new one to it and spoils the old one). Everything else passes
 * through unchanged. Together with the simulator's revokeTokens() this is a rotation as Personio does it.
 */
export async function startRotatingPersonio(
  simUrl: string,
): Promise<{ url: string; rotate(clientId: string, simSecret: string, newSecret: string): void; close(): Promise<void> }> {
  const rotated = new Map<string, { simSecret: string; newSecret: string }>();
  const proxy = await startPersonioProxy(simUrl, {
    request: (method, url, body) => {
      if (method !== 'POST' || url.pathname !== '/v1/auth' || !body) return body;
      const fields = JSON.parse(body) as { client_id?: string; client_secret?: string };
      const rotation = fields.client_id === undefined ? undefined : rotated.get(fields.client_id);
      return rotation ? JSON.stringify({ ...fields, client_secret: fields.client_secret === rotation.newSecret ? rotation.simSecret : 'rotated-away' }) : body;
    },
  });
  return {
    url: proxy.url,
    rotate: (clientId, simSecret, newSecret) => void rotated.set(clientId, { simSecret, newSecret }),
    close: () => proxy.close(),
  };
}
