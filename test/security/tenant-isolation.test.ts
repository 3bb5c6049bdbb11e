import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { handleApiRequest, type ConnectDeps } from '../../lib/connect/api.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { scheduleName } from '../../lib/schedules/schedules.js';
import { connectionKeys, runKeys, userKeys } from '../../lib/storage/tables.js';
import { tenantIdSchema } from '../../lib/tenants/tenant-id.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { LOCAL_CALLER_ROLE_ARN } from '../../local/aws/identity.js';
import { asLocalAdmin, eventually } from '../helpers/connect-support.js';
import { httpEvent, lambdaContext, scheduledEvent } from '../helpers/events.js';
import { registerSecret } from '../helpers/leak-sweep.js';
import type { Mapping } from '../../lib/mapping/mapping.js';
import { isFinalRunStatus, type RunReport } from '../../lib/runs/run.js';

/**
 * Issue 7, item 4b: a tenant id that tries to reach another tenant's secret, schedule or rows is refused before
 * anything is touched, and what an accepted tenant id derives (secret name, schedule name, table keys) belongs to
 * that tenant alone. On the local stack: tenant `acme` doing everything it can never changes tenant `acme-other`
 * (whose id extends acme's: the case a prefix match would get wrong).
 */

const PREFIX = localNames.secretPrefix;
const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

const HOSTILE_IDS = [
  '../other',
  'other/../x',
  '..',
  '.',
  'a#b',
  'user#1',
  'tenant%2Fother',
  'tenant%252Fother',
  'acme-other%00',
  '*',
  '',
  ' ',
  'demo ',
  ' demo',
  'demo\n',
  'demo\u0000',
  'Demo',
  'ACME-OTHER',
  'a'.repeat(65),
  'acmé',
  '\u0430cme-other', // Cyrillic а
  'acme\u200bother', // zero-width space
  'a_b',
  'a.b',
  'a:b',
  'a\\b',
  '-acme',
  'acme-',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${tenant} is a hostile tenant id in its own right: the API must refuse it, not interpolate it
  '${tenant}',
  'acme,acme-other',
] as const;

/** Deps that record every access: the API must refuse a hostile tenant id before it reaches any of them. */
function trapDeps(touched: string[]): ConnectDeps {
  return new Proxy({} as ConnectDeps, {
    get: (_target, key) => {
      // Configuration, not a store or a service: the caller check reads it first.
      if (key === 'allowedCallers') return [LOCAL_CALLER_ROLE_ARN];
      touched.push(String(key));
      throw new Error(`deps.${String(key)} was touched`);
    },
  });
}

const ROUTES: [string, string, unknown?][] = [
  ['PUT', '/tenants/{id}/personio', { clientId: 'someone', clientSecret: 'something-secret' }],
  ['GET', '/tenants/{id}/personio'],
  ['DELETE', '/tenants/{id}/personio'],
  ['GET', '/tenants/{id}/personio/attributes'],
  ['PUT', '/tenants/{id}/personio/mapping', { fields: {}, customFields: {} }],
  ['PUT', '/tenants/{id}/personio/schedule', { enabled: false }],
  ['POST', '/tenants/{id}/personio/imports'],
  ['GET', '/tenants/{id}/personio/imports/20250301T120000.123Z-1a2b3c4d'],
  ['POST', '/tenants/{id}/personio/imports/20250301T120000.123Z-1a2b3c4d/approve'],
];

describe('hostile tenant ids, without any service', () => {
  it('are all refused by the tenant id schema; ordinary ids are accepted', () => {
    // Act
    const accepted = HOSTILE_IDS.filter((id) => tenantIdSchema.safeParse(id).success);
    const ordinary = ['a', '0', 'acme', 'acme-other', 'a'.repeat(64)].filter((id) => !tenantIdSchema.safeParse(id).success);

    // Assess
    expect(accepted).toEqual([]);
    expect(ordinary).toEqual([]);
  });

  it('are refused by every route with a 4xx and a stable code, before any store, Personio or AWS is touched', async () => {
    // Prepare
    const touched: string[] = [];
    const deps = trapDeps(touched);
    const outcomes: string[] = [];

    // Act: as API Gateway passes it (percent-encoded) and raw
    for (const id of HOSTILE_IDS) {
      for (const [method, template, body] of ROUTES) {
        for (const spelled of [encodeURIComponent(id), id]) {
          const path = template.replace('{id}', spelled);
          const answer = await handleApiRequest(deps, { method, path, body: body === undefined ? undefined : JSON.stringify(body), ...asLocalAdmin });
          const code = (answer.body as { error?: { code?: string } }).error?.code;
          outcomes.push(`${answer.status} ${code}`);
          // An id that still reads as a tenant id after decoding must be refused as one, not routed elsewhere.
          if (spelled === encodeURIComponent(id) && id !== '') expect([method, path, code]).toEqual([method, path, 'invalid_tenant_id']);
        }
      }
    }

    // Assess
    expect(touched).toEqual([]);
    expect(new Set(outcomes)).toEqual(new Set(['400 invalid_tenant_id', '404 not_found']));
  });

  it('derives, from any accepted tenant id, a secret name under the prefix that is the id itself, and unique table keys', () => {
    // Prepare: ids from the pattern, and arbitrary strings the schema happens to accept
    const store = new CredentialsStore({ send: () => Promise.reject(new Error('not used')) }, PREFIX);
    const accepted = fc.oneof(
      fc.stringMatching(TENANT_ID),
      fc.string({ unit: 'binary', maxLength: 70 }).filter((s) => tenantIdSchema.safeParse(s).success),
      fc
        .constantFrom(...HOSTILE_IDS)
        .map((s) => s.toLowerCase().replace(/[^a-z0-9-]/g, '') || 'x')
        .filter((s) => tenantIdSchema.safeParse(s).success),
    );

    // Table keys: the tenant id, unchanged, is the whole partition key of every table, so a tenant's rows are its own
    expect([connectionKeys.partition, userKeys.partition, runKeys.partition]).toEqual(['tenantId', 'tenantId', 'tenantId']);

    fc.assert(
      fc.property(accepted, accepted, (a, b) => {
        // Act
        const [nameA, nameB] = [store.secretName(a), store.secretName(b)];

        // Assess: a path segment of its own under the prefix, nothing that reads as a path, a key separator or an escape
        expect(a).toMatch(/^[a-z0-9-]{1,64}$/);
        expect(nameA.startsWith(PREFIX)).toBe(true);
        expect(nameA.slice(PREFIX.length)).toBe(a);
        expect(nameA.slice(PREFIX.length)).not.toMatch(/[/#%.*?\s]/);
        if (a !== b) {
          expect(nameA).not.toBe(nameB);
          expect(scheduleName(a)).not.toBe(scheduleName(b));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("gives a long tenant id a schedule name no other tenant id can have (a short id spelled like the long one's hashed name)", () => {
    // Prepare: ids too long for `personio-<id>` in Scheduler's 64 characters get a shortened, hashed name
    const longId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{54,62}[a-z0-9]$/);

    fc.assert(
      fc.property(longId, (id) => {
        // Act: the tenant id that would own the same name as a plain `personio-<id>`
        const name = scheduleName(id);
        const impostor = name.slice('personio-'.length);

        // Assess
        expect(name).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
        expect(tenantIdSchema.safeParse(impostor).success && impostor !== id).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

/** An answer of the connect API, with the fields this file reads of it (which are there depends on the route and status; null for an empty body). */
interface Answer {
  status: number;
  body: {
    error?: { code: string };
    /** Connect and the connection's status. */
    mapping?: Mapping;
    runs?: RunReport[];
    /** An accepted import, and a run's report. */
    runId?: string;
    status?: string;
  } | null;
}

describe('tenant acme cannot read or change tenant acme-other, on the local stack', () => {
  const A = 'acme';
  const B = 'acme-other';
  const CRED_A = { clientId: 'acme-client', clientSecret: 's3cr3t-LEAK-CANARY-tenant-acme' };
  const CRED_B = { clientId: 'other-client', clientSecret: 's3cr3t-LEAK-CANARY-tenant-other' };
  let sim: PersonioSim;
  let env: LocalEnvironment;
  const db = () => createDocumentClient();

  beforeAll(async () => {
    registerSecret(CRED_A.clientSecret, 'tenant acme secret', CRED_A.clientId);
    registerSecret(CRED_B.clientSecret, 'tenant acme-other secret', CRED_B.clientId);
    sim = await startPersonioSim({ employees: 12, credentials: [CRED_A, CRED_B] });
    env = await startLocalEnvironment({ personio: { url: sim.url, ...CRED_B } });
  });

  afterAll(async () => {
    await env?.stack.lambda.idle();
    await env?.stop();
    await sim?.close();
  });

  async function call(method: string, path: string, body?: unknown, query = ''): Promise<Answer> {
    const response = await env.handlers.connect(httpEvent(method, path, body, { query }));
    return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? 'null') as Answer['body'] };
  }

  /** Everything tenant B owns: its secret, its schedule and its rows in every table. */
  async function snapshot(tenantId: string): Promise<unknown> {
    const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: `${PREFIX}${tenantId}` }));
    const schedule = await new SchedulerClient({}).send(new GetScheduleCommand({ Name: scheduleName(tenantId), GroupName: localNames.scheduleGroup }));
    const rows: Record<string, unknown[]> = {};
    for (const table of [localNames.usersTable, localNames.connectionsTable, localNames.runsTable, localNames.auditTable]) {
      const result = await db().send(
        new QueryCommand({ TableName: table, KeyConditionExpression: 'tenantId = :t', ExpressionAttributeValues: { ':t': tenantId }, ConsistentRead: true }),
      );
      rows[table] = result.Items ?? [];
    }
    return { secret: { value: secret.SecretString, version: secret.VersionId }, schedule: { ...schedule, $metadata: undefined }, rows };
  }

  const countItems = async () => {
    let n = 0;
    for (const table of [localNames.usersTable, localNames.connectionsTable, localNames.runsTable, localNames.auditTable])
      n += (await db().send(new ScanCommand({ TableName: table, Select: 'COUNT' }))).Count ?? 0;
    return n;
  };

  it('refuses hostile tenant ids at the real handlers (connect API and fetch event) and creates nothing', async () => {
    // Prepare
    const itemsBefore = await countItems();
    const secretCallsBefore = JSON.stringify(env.stack.secretsManager.calls());
    const context = lambdaContext('personio-fetch', 60_000);

    // Act
    const answers: Answer[] = [];
    for (const id of HOSTILE_IDS) answers.push(await call('PUT', `/tenants/${encodeURIComponent(id)}/personio`, CRED_B));
    const fetchErrors: unknown[] = [];
    for (const id of [...HOSTILE_IDS, 42, null, ['acme'], { $ne: '' }]) {
      for (const event of [{ tenantId: id }, scheduledEvent(id as string)]) {
        fetchErrors.push(
          await env.handlers.fetch(event, context).then(
            (outcome) => outcome,
            (error: unknown) => error,
          ),
        );
      }
    }

    // Assess
    expect(answers.filter((a) => a.status !== 400 && a.status !== 404)).toEqual([]);
    expect(answers.filter((a) => a.body!.error!.code === 'invalid_tenant_id').length).toBe(HOSTILE_IDS.length - 1); // '' finds no route
    expect(fetchErrors.filter((e) => !(e instanceof Error && e.name === 'FetchEventError' && (e as { code?: string }).code === 'invalid_event'))).toEqual([]);
    expect(await countItems()).toBe(itemsBefore);
    expect(JSON.stringify(env.stack.secretsManager.calls())).toBe(secretCallsBefore);
    expect(sim.stats().authCalls).toBe(0);
  });

  it("leaves acme-other's secret, schedule and rows untouched whatever acme does, and shows acme none of them", async () => {
    // Prepare: acme-other connected and imported
    expect((await call('PUT', `/tenants/${B}/personio`, CRED_B)).status).toBe(200);
    const otherRun = await runImport(env, B, { timeoutMs: 30_000 });
    expect(otherRun.status).toBe('completed');
    const before = await snapshot(B);

    // Act: acme connects, reads, changes its settings, imports twice, asks for acme-other's run, disconnects
    const connected = await call('PUT', `/tenants/${A}/personio`, CRED_A);
    const storedA = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: `${PREFIX}${A}` }));
    const mapping = { ...connected.body!.mapping, fields: { ...connected.body!.mapping!.fields, position: null } };
    const answers = {
      mapping: (await call('PUT', `/tenants/${A}/personio/mapping`, mapping)).status,
      schedule: (await call('PUT', `/tenants/${A}/personio/schedule`, { enabled: false })).status,
      attributes: (await call('GET', `/tenants/${A}/personio/attributes`)).status,
      otherRun: (await call('GET', `/tenants/${A}/personio/imports/${otherRun.runId}`)).body!.error?.code,
      approveOtherRun: (await call('POST', `/tenants/${A}/personio/imports/${otherRun.runId}/approve`)).body!.error?.code,
    };
    const importNow = await call('POST', `/tenants/${A}/personio/imports`);
    await eventually(
      async () => {
        const run = await call('GET', `/tenants/${A}/personio/imports/${importNow.body!.runId}`);
        return isFinalRunStatus(run.body!.status) ? run : undefined;
      },
      30_000,
      'acme import now',
    );
    await env.stack.lambda.idle();
    await env.eventSource.stop();
    const ownRun = await runImport(env, A, { timeoutMs: 30_000 });
    const status = await call('GET', `/tenants/${A}/personio`);
    // Ids that would reach acme-other if anything normalised them
    const sneaky: number[] = [];
    for (const id of ['acme-other ', 'ACME-OTHER', 'acme%2F..%2Facme-other', 'acme-other%00', '\u0430cme-other']) {
      sneaky.push((await call('DELETE', `/tenants/${encodeURIComponent(id)}/personio`)).status);
      sneaky.push((await call('PUT', `/tenants/${encodeURIComponent(id)}/personio/schedule`, { enabled: false })).status);
    }
    const disconnected = await call('DELETE', `/tenants/${A}/personio`);
    await env.stack.lambda.idle();
    await env.eventSource.stop();
    const after = await snapshot(B);

    // Assess: acme's own calls worked, with acme's own secret
    expect(connected.status).toBe(200);
    expect(JSON.parse(storedA.SecretString ?? '{}')).toEqual(CRED_A);
    expect(answers).toEqual({ mapping: 200, schedule: 200, attributes: 200, otherRun: 'run_not_found', approveOtherRun: 'run_not_found' });
    expect([importNow.status, ownRun.status, disconnected.status]).toEqual([202, 'completed', 200]);
    expect(sneaky.every((s) => s === 400)).toBe(true);
    // Assess: acme sees only its own runs
    expect(status.body!.runs!.length).toBeGreaterThanOrEqual(2);
    expect(status.body!.runs!.every((r: { tenantId: string; runId: string }) => r.tenantId === A && r.runId !== otherRun.runId)).toBe(true);
    // Assess: acme-other is exactly as before
    expect(after).toEqual(before);
    expect((after as { rows: Record<string, unknown[]> }).rows[localNames.usersTable]?.length).toBeGreaterThanOrEqual(12);
  });
});
