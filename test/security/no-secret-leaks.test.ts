import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { simSecrets } from '../../local/personio-sim/issued.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { SqsEventSource } from '../../local/runner/event-source.js';
import { runImport } from '../../local/runner/import-run.js';
import { captureOutput, eventually } from '../helpers/connect-support.js';
import { httpEvent, lambdaContext, scheduledEvent } from '../helpers/events.js';
import { findLeaks, knownSecrets, registerSecret, type KnownSecret } from '../helpers/leak-sweep.js';
import type { Mapping } from '../../lib/mapping/mapping.js';
import { isFinalRunStatus, type RunReport } from '../../lib/runs/run.js';

/**
 * Issue 7, item 4a: no client secret and no Personio token in anything the product hands out or writes down.
 * One tenant goes through every flow on the local stack with handlers logging at DEBUG: connect with a wrong and
 * with the right secret, status, attributes, mapping preview and save, schedule, import now, a scheduled import,
 * Personio refusing the stored secret, Personio failing, Personio unreachable, Secrets Manager unavailable, a bad
 * fetch event, disconnect. Then everything captured is searched: stdout/stderr (the Powertools log lines), every
 * HTTP answer with its headers, every error thrown, every item of the three tables, every SQS message body, every
 * schedule the Scheduler held (its target's Input included) and every event the fetch function was invoked with.
 */

// Canaries: distinctive, and made only of characters that JSON and URLs leave alone, so an escape cannot hide a leak.
const tag = () => randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
const CANARY = { clientId: 'canary-client-4711', clientSecret: `s3cr3t-LEAK-CANARY-${tag()}` };
const WRONG_SECRET = `s3cr3t-WRONG-CANARY-${tag()}`;
const ROTATED_SECRET = `s3cr3t-ROTATED-CANARY-${tag()}`;
const TENANT = 'leak-canary';

/** An answer of the connect API, with the fields this file reads of it (which are there depends on the route and status; null for an empty body). */
interface Answer {
  status: number;
  body: {
    /** Connect. */
    mapping?: Mapping;
    /** An accepted import, and a run's report. */
    runId?: string;
    status?: string;
  } | null;
}

describe('no secret or token in logs, answers, errors, tables or messages', () => {
  const output = captureOutput({ passThrough: false });
  const answers: string[] = [];
  const errors: string[] = [];
  const messageBodies: string[] = [];
  /** Every state of every schedule seen in the Scheduler stand-in (disconnect deletes them), as full JSON. */
  const schedules = new Set<string>();
  /** Every event the fetch function was invoked with through the Lambda stand-in ("import now"). */
  const invocations: string[] = [];
  const statuses: Record<string, number> = {};
  let sim: PersonioSim;
  let env: LocalEnvironment;
  let eventSource: SqsEventSource;

  beforeAll(async () => {
    for (const [label, secret] of [
      ['canary client secret', CANARY.clientSecret],
      ['wrong canary secret', WRONG_SECRET],
      ['rotated canary secret', ROTATED_SECRET],
    ] as const) {
      registerSecret(secret, label, CANARY.clientId);
    }
    sim = await startPersonioSim({ employees: 25, credentials: [CANARY] });
    env = await startLocalEnvironment({ personio: { url: sim.url, ...CANARY }, logLevel: 'DEBUG' });
    // The worker's event source, with every message body recorded on its way to the worker.
    eventSource = new SqsEventSource({
      sqs: env.sqs,
      queueUrl: env.queueUrls.importQueueUrl,
      handler: (event: SQSEvent, context) => {
        messageBodies.push(...event.Records.map((r) => r.body));
        return env.handlers.worker(event, context);
      },
    });
    env.eventSource = eventSource;
    eventSource.start();
    // The fetch function registered as the local environment does, with every invocation's event recorded (the
    // Lambda stand-in has no accessor for the payloads it received).
    env.stack.lambda.register(localNames.fetchFunction, (event) => {
      invocations.push(JSON.stringify(event));
      return env.handlers.fetch(event, lambdaContext('personio-fetch', 15 * 60_000));
    });
  });

  afterAll(async () => {
    output.stop();
    await eventSource?.stop();
    await env?.stack.lambda.idle();
    await env?.stop();
    await sim?.close();
  });

  /** Calls the connect handler as API Gateway would and keeps the whole answer, headers included. */
  async function call(label: string, method: string, path: string, body?: unknown, query = ''): Promise<Answer> {
    const response = await env.handlers.connect(httpEvent(method, path, body, { query }));
    answers.push(JSON.stringify(response));
    statuses[label] = response.statusCode ?? 0;
    recordSchedules();
    return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? 'null') as Answer['body'] };
  }

  function recordSchedules(): void {
    for (const schedule of env.stack.scheduler.schedules()) schedules.add(JSON.stringify(schedule));
  }

  async function recordError(what: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
      errors.push(`${what}: no error`);
    } catch (error) {
      errors.push(`${what}: ${error instanceof Error ? `${error.name}: ${error.message} ${JSON.stringify(error)} ${String(error.stack)}` : String(error)}`);
    }
  }

  async function importNow(label: string): Promise<RunReport> {
    const accepted = await call(label, 'POST', `/tenants/${TENANT}/personio/imports`);
    expect(accepted.status).toBe(202);
    const report = await eventually(
      async () => {
        const answer = await call(`${label} (poll)`, 'GET', `/tenants/${TENANT}/personio/imports/${accepted.body!.runId}`);
        return isFinalRunStatus(answer.body!.status) && (await eventSource.depth()) === 0 ? (answer.body as RunReport) : undefined;
      },
      30_000,
      `run ${accepted.body!.runId}`,
    );
    await env.stack.lambda.idle();
    return report;
  }

  it('goes through every flow, the failing ones included', async () => {
    // Act: connect (wrong secret, then the right one), read and change settings, import twice
    await call('connect with a wrong secret', 'PUT', `/tenants/${TENANT}/personio`, { clientId: CANARY.clientId, clientSecret: WRONG_SECRET });
    const connected = await call('connect', 'PUT', `/tenants/${TENANT}/personio`, CANARY);
    await call('status', 'GET', `/tenants/${TENANT}/personio`);
    await call('attributes', 'GET', `/tenants/${TENANT}/personio/attributes`);
    await call('mapping preview', 'PUT', `/tenants/${TENANT}/personio/mapping`, connected.body!.mapping, 'preview=3');
    await call('mapping', 'PUT', `/tenants/${TENANT}/personio/mapping`, connected.body!.mapping);
    await call('schedule', 'PUT', `/tenants/${TENANT}/personio/schedule`, { enabled: true, every: 'daily' });
    const first = await importNow('import now');
    const scheduled = await runImport(env, TENANT, { timeoutMs: 30_000 });

    // Act: Personio refuses the stored secret (rotated in Personio: the stored one is now wrong)
    await new CredentialsStore(new SecretsManagerClient({}), localNames.secretPrefix).put(TENANT, { clientId: CANARY.clientId, clientSecret: ROTATED_SECRET });
    sim.revokeTokens();
    const refused = await runImport(env, TENANT, { timeoutMs: 30_000 });
    await call('status after refusal', 'GET', `/tenants/${TENANT}/personio`);
    await call('attributes with refused secret', 'GET', `/tenants/${TENANT}/personio/attributes`);
    await call('reconnect', 'PUT', `/tenants/${TENANT}/personio`, CANARY);

    // Act: Personio answers every employee page with a 5xx; the fetch gives up inside a short Lambda budget
    // (the fetch keeps 15 s back to close the run: 19 s leave a few seconds of retries)
    sim.setKnobs({ errorRate: 1 });
    const failing = await env.handlers.fetch(scheduledEvent(TENANT), lambdaContext('personio-fetch', 19_000));
    await call('attributes while Personio fails', 'GET', `/tenants/${TENANT}/personio/attributes`);
    sim.setKnobs({ errorRate: 0 });

    // Act: Secrets Manager unavailable, a malformed fetch event
    env.stack.secretsManager.setUnavailable(true);
    await call('connect without Secrets Manager', 'PUT', `/tenants/${TENANT}/personio`, CANARY);
    const withoutSecrets = await env.handlers.fetch(scheduledEvent(TENANT), lambdaContext('personio-fetch', 19_000));
    env.stack.secretsManager.setUnavailable(false);
    await recordError('fetch with a malformed event', () =>
      env.handlers.fetch({ tenantId: TENANT, clientSecret: CANARY.clientSecret }, lambdaContext('personio-fetch', 4_000)),
    );
    await call('connect with the secret in an unknown field', 'PUT', `/tenants/${TENANT}/personio`, { ...CANARY, password: CANARY.clientSecret });
    await call('connect with malformed JSON', 'PUT', `/tenants/${TENANT}/personio`, `{"clientId":"${CANARY.clientId}","clientSecret":"${CANARY.clientSecret}"`);

    // Act: Personio unreachable, then disconnect
    await sim.close();
    const unreachable = await env.handlers.fetch(scheduledEvent(TENANT), lambdaContext('personio-fetch', 19_000));
    await call('connect while Personio is down', 'PUT', `/tenants/${TENANT}/personio`, CANARY);
    await call('disconnect', 'DELETE', `/tenants/${TENANT}/personio`);
    await call('status after disconnect', 'GET', `/tenants/${TENANT}/personio`);
    await call('import now after disconnect', 'POST', `/tenants/${TENANT}/personio/imports`);
    answers.push(JSON.stringify([first, scheduled, refused, failing, withoutSecrets, unreachable]));

    // Assess: every flow ran as intended (otherwise the search below would prove little)
    expect(statuses).toMatchObject({
      'connect with a wrong secret': 422,
      connect: 200,
      status: 200,
      attributes: 200,
      'mapping preview': 200,
      mapping: 200,
      schedule: 200,
      'status after refusal': 200,
      'attributes with refused secret': 422,
      reconnect: 200,
      'attributes while Personio fails': 502,
      'connect without Secrets Manager': 503,
      'connect with the secret in an unknown field': 400,
      'connect with malformed JSON': 400,
      'connect while Personio is down': 502,
      disconnect: 200,
      'status after disconnect': 200,
      'import now after disconnect': 409,
    });
    expect([first.status, scheduled.status, refused.status]).toEqual(['completed', 'completed', 'failed']);
    expect(refused.findings.map((f: { code: string }) => f.code)).toContain('personio_invalid_credentials');
    expect([failing, withoutSecrets, unreachable]).toMatchObject([
      { status: 'failed', failure: { code: 'personio_unavailable' } },
      { status: 'failed', failure: { code: 'secrets_unavailable' } },
      { status: 'failed', failure: { code: 'personio_unavailable', message: expect.stringContaining('could not be reached') } },
    ]);
    expect(errors).toEqual([expect.stringMatching(/^fetch with a malformed event: FetchEventError/)]);
  });

  it('finds none of the secrets, tokens or Basic forms anywhere (and the search saw real material)', async () => {
    // Prepare: every item of the three tables
    const db = createDocumentClient();
    const tables: string[] = [];
    for (const table of [localNames.usersTable, localNames.connectionsTable, localNames.runsTable]) {
      const scan = await db.send(new ScanCommand({ TableName: table }));
      tables.push(...(scan.Items ?? []).map((item) => JSON.stringify(item)));
    }
    const lambdaErrors = env.stack.lambda.failures().map((f) => (f.error instanceof Error ? `${f.error.name}: ${f.error.message}` : String(f.error)));
    const logs = output.text();
    const tokens = simSecrets().tokens;
    const secrets: KnownSecret[] = knownSecrets();
    recordSchedules();
    const scheduleInputs = [...schedules].map((s) => (JSON.parse(s) as { Target: { Input?: string } }).Target.Input);
    const everything = [logs, ...answers, ...errors, ...lambdaErrors, ...tables, ...messageBodies, ...schedules, ...invocations];

    // Assess: the material is real (DEBUG logs of all three functions, answers, rows, messages, schedules with their
    // Input, fetch invocations, minted tokens)
    expect(logs).toContain('"level":"DEBUG"');
    expect(logs).toContain('"message":"request received"');
    expect(logs).toContain('"message":"fetch finished"');
    expect(logs).toContain('"message":"message processed"');
    expect(answers.length).toBeGreaterThan(20);
    expect(tables.some((t) => t.includes('"sk":"user#'))).toBe(true);
    expect(tables.some((t) => t.includes('personio_invalid_credentials'))).toBe(true);
    expect(messageBodies.length).toBeGreaterThan(1);
    expect(schedules.size).toBeGreaterThanOrEqual(1);
    expect(scheduleInputs).toEqual([...schedules].map(() => expect.stringContaining(TENANT)));
    expect(invocations.length).toBeGreaterThanOrEqual(1);
    expect(invocations).toEqual(invocations.map(() => expect.stringContaining(TENANT)));
    expect(sim.stats().tokensIssued).toBeGreaterThanOrEqual(2);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(secrets.map((s) => s.label)).toEqual(expect.arrayContaining(['canary client secret', 'wrong canary secret', 'rotated canary secret']));
    // The search would see a token in its Bearer form
    expect(findLeaks(`Authorization: Bearer ${tokens[0]}`, secrets)).not.toEqual([]);

    // Assess
    const leaks = everything.flatMap((text, i) => findLeaks(text, secrets).map((l) => `${l.label} (${l.form}) in item ${i}`));
    expect(leaks).toEqual([]);
  });
});
