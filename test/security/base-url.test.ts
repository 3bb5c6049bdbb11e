import { createServer, type Server } from 'node:http';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { defaultMapping, mappingSchema } from '../../lib/mapping/mapping.js';
import { closeServer, listenOn } from '../../local/aws/ports.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { httpEvent, lambdaContext, scheduledEvent } from '../helpers/events.js';
import { registerSecret } from '../helpers/leak-sweep.js';

/**
 * Issue 7, item 4c: the Personio base URL is the deployment's (PERSONIO_BASE_URL); no tenant can set it. The connect
 * API's bodies are strict, so a body, a nested object or a query parameter naming a URL is refused with 400; headers
 * are not read; the fetch event is strict; a URL smuggled into the stored secret or the connection row is ignored.
 * An attacker's server, which would answer like Personio, must see no request at all, while the configured simulator
 * serves every call.
 */

const TENANT = 'url-tenant';
const CRED = { clientId: 'url-client', clientSecret: 's3cr3t-LEAK-CANARY-base-url' };
const URL_KEYS = ['baseUrl', 'baseURL', 'base_url', 'personioUrl', 'personioBaseUrl', 'personio_base_url', 'url', 'apiUrl', 'endpoint', 'host', 'server'];

/** An answer of the connect API, with what this file reads of it: the error of a refusal (null for an empty body). */
interface Answer {
  status: number;
  body: { error?: { code: string; details?: unknown } } | null;
}

describe('the Personio base URL cannot be chosen by a tenant', () => {
  let sim: PersonioSim;
  let env: LocalEnvironment;
  let attacker: Server;
  let attackerUrl: string;
  const attackerRequests: string[] = [];

  beforeAll(async () => {
    registerSecret(CRED.clientSecret, 'base-url tenant secret', CRED.clientId);
    // The attacker's "Personio": accepts any credential and would hand out a token and employees.
    attacker = createServer((req, res) => {
      attackerRequests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, data: { token: 'attacker-token', expires_in: 86_400 } }));
    });
    attackerUrl = `http://127.0.0.1:${await listenOn(attacker, 0, '127.0.0.1')}`;
    sim = await startPersonioSim({ employees: 8, credentials: [CRED] });
    env = await startLocalEnvironment({ personio: { url: sim.url, ...CRED } });
  });

  afterAll(async () => {
    await env?.stack.lambda.idle();
    await env?.stop();
    await sim?.close();
    if (attacker) await closeServer(attacker);
  });

  async function call(method: string, path: string, body?: unknown, options: { query?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const response = await env.handlers.connect(httpEvent(method, path, body, options));
    return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? 'null') as Answer['body'] };
  }

  it('refuses a connect body with a URL field, at the top or nested, with 400 and the field named, and calls no Personio', async () => {
    // Prepare
    const bodies: unknown[] = [
      ...URL_KEYS.map((key) => ({ ...CRED, [key]: attackerUrl })),
      { ...CRED, credentials: { ...CRED, baseUrl: attackerUrl } },
      { ...CRED, personio: { baseUrl: attackerUrl } },
      { clientId: { value: CRED.clientId, baseUrl: attackerUrl }, clientSecret: CRED.clientSecret },
      { clientId: CRED.clientId, clientSecret: { value: CRED.clientSecret, personioUrl: attackerUrl } },
      { ...CRED, appId: attackerUrl },
      [CRED, { baseUrl: attackerUrl }],
    ];

    // Act
    const answers: Answer[] = [];
    for (const body of bodies) answers.push(await call('PUT', `/tenants/${TENANT}/personio`, body));

    // Assess
    expect(answers.map((a) => `${a.status} ${a.body!.error?.code}`)).toEqual(bodies.map(() => '400 invalid_request'));
    URL_KEYS.forEach((key, i) => {
      expect(answers[i]?.body?.error?.details).toEqual([{ field: '(body)', message: `unknown field(s): ${key}` }]);
    });
    expect(sim.stats().requests).toBe(0);
    expect(attackerRequests).toEqual([]);
  });

  it('refuses a URL in the query string and in otherwise valid bodies of the other routes, with 400 and the field named', async () => {
    // Prepare: for every route a request that is valid (the mapping is the default one connect starts a tenant from) but
    // for the URL added to it, and the error detail that must name that URL field
    const mapping = defaultMapping();
    expect(mappingSchema.safeParse(mapping).success).toBe(true);
    const unknownQuery = (field: string) => [{ field, message: expect.stringMatching(/^unknown query parameter/) }];
    const unknownBodyField = (key: string, field = '(body)') => [{ field, message: `unknown field(s): ${key}` }];
    const cases: { request: Parameters<typeof call>; details: unknown }[] = [
      { request: ['PUT', `/tenants/${TENANT}/personio`, CRED, { query: `baseUrl=${encodeURIComponent(attackerUrl)}` }], details: unknownQuery('baseUrl') },
      {
        request: ['GET', `/tenants/${TENANT}/personio/attributes`, undefined, { query: `personioUrl=${encodeURIComponent(attackerUrl)}` }],
        details: unknownQuery('personioUrl'),
      },
      {
        request: ['PUT', `/tenants/${TENANT}/personio/mapping`, mapping, { query: `preview=3&baseUrl=${encodeURIComponent(attackerUrl)}` }],
        details: unknownQuery('baseUrl'),
      },
      {
        request: ['PUT', `/tenants/${TENANT}/personio/schedule`, { enabled: true, every: 'daily', baseUrl: attackerUrl }],
        details: unknownBodyField('baseUrl'),
      },
      { request: ['PUT', `/tenants/${TENANT}/personio/mapping`, { ...mapping, baseUrl: attackerUrl }], details: unknownBodyField('baseUrl') },
      {
        request: ['PUT', `/tenants/${TENANT}/personio/mapping`, { ...mapping, fields: { ...mapping.fields, personioUrl: attackerUrl } }],
        details: unknownBodyField('personioUrl', 'fields'),
      },
      {
        request: ['PUT', `/tenants/${TENANT}/personio/mapping`, { ...mapping, baseUrl: attackerUrl }, { query: 'preview=3' }],
        details: unknownBodyField('baseUrl'),
      },
      { request: ['POST', `/tenants/${TENANT}/personio/imports`, { baseUrl: attackerUrl }], details: unknownBodyField('baseUrl') },
      { request: ['DELETE', `/tenants/${TENANT}/personio`, { personioUrl: attackerUrl }], details: unknownBodyField('personioUrl') },
    ];

    // Act
    const answers: Answer[] = [];
    for (const { request } of cases) answers.push(await call(...request));

    // Assess: each is refused for the URL field alone (the details list nothing else wrong with the request)
    expect(answers.map((a) => ({ status: a.status, code: a.body!.error?.code, details: a.body!.error?.details }))).toEqual(
      cases.map(({ details }) => ({ status: 400, code: 'invalid_request', details })),
    );
    expect(sim.stats().requests).toBe(0);
    expect(attackerRequests).toEqual([]);
  });

  it('refuses a fetch event that names a URL, directly or in a scheduled event', async () => {
    // Prepare
    const events = [
      ...URL_KEYS.map((key) => ({ tenantId: TENANT, [key]: attackerUrl })),
      { ...scheduledEvent(TENANT), detail: { tenantId: TENANT, personioBaseUrl: attackerUrl } },
    ];

    // Act
    const outcomes: unknown[] = [];
    for (const event of events)
      outcomes.push(
        await env.handlers.fetch(event, lambdaContext('personio-fetch', 60_000)).then(
          (o) => o,
          (e: unknown) => e,
        ),
      );

    // Assess
    expect(outcomes.map((o) => (o instanceof Error ? `${o.name} ${(o as { code?: string }).code}` : JSON.stringify(o)))).toEqual(
      events.map(() => 'FetchEventError invalid_event'),
    );
    expect(attackerRequests).toEqual([]);
  });

  it('ignores URL headers, stores no URL, and imports from the configured Personio even with a URL smuggled into the secret and the row', async () => {
    // Act: connect with every header a proxy-minded implementation might read
    const connected = await call('PUT', `/tenants/${TENANT}/personio`, CRED, {
      headers: {
        'x-personio-base-url': attackerUrl,
        'x-forwarded-host': new URL(attackerUrl).host,
        forwarded: `host=${new URL(attackerUrl).host}`,
        host: new URL(attackerUrl).host,
        origin: attackerUrl,
      },
    });
    const db = createDocumentClient();
    const secrets = new SecretsManagerClient({});
    const secretName = `dado/personio/${TENANT}`;
    const stored = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretName }))).SecretString ?? '{}');
    const row = (await db.send(new GetCommand({ TableName: localNames.connectionsTable, Key: { tenantId: TENANT } }))).Item ?? {};

    // Assess: what connect stored names no URL
    expect(connected.status).toBe(200);
    expect(Object.keys(stored).sort()).toEqual(['clientId', 'clientSecret']);
    expect(Object.keys(row).filter((k) => /url|host|endpoint|server/i.test(k))).toEqual([]);
    expect(JSON.stringify(row)).not.toContain('http');

    // Prepare: a URL smuggled into the secret (as a second field) and into the connection row
    await secrets.send(
      new PutSecretValueCommand({ SecretId: secretName, SecretString: JSON.stringify({ ...CRED, baseUrl: attackerUrl, personioBaseUrl: attackerUrl }) }),
    );
    await db.send(
      new UpdateCommand({
        TableName: localNames.connectionsTable,
        Key: { tenantId: TENANT },
        UpdateExpression: 'SET baseUrl = :u, personioBaseUrl = :u, personioUrl = :u',
        ExpressionAttributeValues: { ':u': attackerUrl },
      }),
    );
    const requestsBefore = sim.stats().requests;

    // Act: a scheduled import, "import now", and the attributes read with the stored secret
    const report = await runImport(env, TENANT, { timeoutMs: 30_000 });
    await env.eventSource.stop();
    const importNow = await call('POST', `/tenants/${TENANT}/personio/imports`);
    await env.stack.lambda.idle();
    const attributes = await call('GET', `/tenants/${TENANT}/personio/attributes`);

    // Assess: every Personio call went to the configured simulator, none to the attacker
    expect(report).toMatchObject({ status: 'completed', employeesFetched: 8 });
    expect([importNow.status, attributes.status]).toEqual([202, 200]);
    expect(env.stack.lambda.failures()).toEqual([]);
    expect(sim.stats().requests).toBeGreaterThan(requestsBefore + 2);
    expect(attackerRequests).toEqual([]);
  });
});
