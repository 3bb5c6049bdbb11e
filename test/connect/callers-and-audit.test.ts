/**
 * Who may call the connect API (only the roles the stage lists) and who did what (X-Dado-Actor on every change, one
 * audit entry per successful change), through the real connect handler on the local stack.
 */
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { authorizeCaller } from '../../lib/connect/caller.js';
import { isFinalRunStatus, type RunReport } from '../../lib/runs/run.js';
import { LOCAL_CALLER_ROLE_ARN } from '../../local/aws/identity.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { iamCaller } from '../helpers/events.js';
import { apiCaller, captureOutput, eventually, leakedSecrets } from '../helpers/connect-support.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';

const CREDENTIALS = { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' };
const OTHER_ACCOUNT = '111111111111';
const ROLE_ARN = LOCAL_CALLER_ROLE_ARN;

type As = { caller?: ReturnType<typeof iamCaller> | null; actor?: string | null };

describe('who may call the connect API, and who did what', () => {
  let env: LocalEnvironment;
  const answers: string[] = [];
  const call = apiCaller(() => env, answers);
  const secrets = new SecretsManagerClient({});
  const db = createDocumentClient();

  beforeAll(async () => {
    // Errors logged (the tests' default is silence): an entry that cannot be stored is logged as one.
    env = await startLocalEnvironment({ simulator: { employees: 12 }, logLevel: 'ERROR' });
    env.eventSource.start();
  }, 60_000);

  afterAll(async () => {
    await env?.stack.lambda.idle();
    await env?.stop();
  });

  const connect = (tenantId: string, as: As = {}, body: object = CREDENTIALS) => call('PUT', `/tenants/${tenantId}/personio`, body, undefined, as);
  const audit = (tenantId: string, query?: string, as: As = {}) => call('GET', `/tenants/${tenantId}/personio/audit`, undefined, query, as);

  /** Every change the API offers on a tenant, as a request (the run routes name `runId`). */
  const changes = (tenantId: string, mapping: unknown, runId: string): [string, string, unknown?][] => [
    ['PUT', `/tenants/${tenantId}/personio`, CREDENTIALS],
    ['PUT', `/tenants/${tenantId}/personio/mapping`, mapping],
    ['PUT', `/tenants/${tenantId}/personio/schedule`, { enabled: false }],
    ['POST', `/tenants/${tenantId}/personio/imports`],
    ['POST', `/tenants/${tenantId}/personio/imports/${runId}/approve`],
    ['DELETE', `/tenants/${tenantId}/personio`],
  ];
  const reads = (tenantId: string, runId: string): [string, string][] => [
    ['GET', `/tenants/${tenantId}/personio`],
    ['GET', `/tenants/${tenantId}/personio/attributes`],
    ['GET', `/tenants/${tenantId}/personio/imports/${runId}`],
    ['GET', `/tenants/${tenantId}/personio/audit`],
  ];

  async function storedSecret(tenantId: string): Promise<string | undefined> {
    try {
      return (await secrets.send(new GetSecretValueCommand({ SecretId: `${localNames.secretPrefix}${tenantId}` }))).SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async function rows(table: string, tenantId: string): Promise<Record<string, unknown>[]> {
    const result = await db.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: 'tenantId = :t', ExpressionAttributeValues: { ':t': tenantId }, ConsistentRead: true }),
    );
    return result.Items ?? [];
  }

  /** Everything a tenant has: connection, secret, schedule, runs and audit entries. */
  async function stored(tenantId: string) {
    return {
      connection: await env.connections.get(tenantId),
      secret: await storedSecret(tenantId),
      schedule: env.stack.scheduler.schedules().find((s) => s.Name === `personio-${tenantId}`),
      runs: await rows(localNames.runsTable, tenantId),
      audit: await rows(localNames.auditTable, tenantId),
    };
  }

  /** Import now as `actor`, waiting until the run is final and the queue drained. */
  async function importAs(tenantId: string, actor: string): Promise<RunReport> {
    const accepted = await call('POST', `/tenants/${tenantId}/personio/imports`, undefined, undefined, { actor });
    expect(accepted.status).toBe(202);
    const report = await eventually(async () => {
      const answer = await call('GET', `/tenants/${tenantId}/personio/imports/${accepted.body.runId}`);
      return isFinalRunStatus(answer.body.status) && (await env.eventSource.depth()) === 0 ? (answer.body as RunReport) : undefined;
    });
    await env.stack.lambda.idle();
    return report;
  }

  describe('the allow-list', () => {
    it('matches a role session by account and role name, whatever the allowed ARN’s path or the name’s case', () => {
      // Act
      const allowed = [
        authorizeCaller([ROLE_ARN], iamCaller(ROLE_ARN, 'backend-1')),
        authorizeCaller(['arn:aws:iam::000000000000:role/service/dado/dado-backend-local'], iamCaller(ROLE_ARN)),
        authorizeCaller(['arn:aws:iam::000000000000:role/Dado-Backend-Local'], iamCaller(ROLE_ARN)),
      ];

      // Assess
      expect(allowed).toEqual([
        'arn:aws:sts::000000000000:assumed-role/dado-backend-local/backend-1',
        'arn:aws:sts::000000000000:assumed-role/dado-backend-local/local',
        'arn:aws:sts::000000000000:assumed-role/dado-backend-local/local',
      ]);
    });

    it.each([
      ['another role of the account', [ROLE_ARN], iamCaller('arn:aws:iam::000000000000:role/dado-backend-local-2')],
      ['the role name in another account', [ROLE_ARN], iamCaller(`arn:aws:iam::${OTHER_ACCOUNT}:role/dado-backend-local`)],
      ['the role name in another partition', [ROLE_ARN], iamCaller('arn:aws-cn:iam::000000000000:role/dado-backend-local')],
      ['an IAM user of the role’s name', [ROLE_ARN], { ...iamCaller(), userArn: 'arn:aws:iam::000000000000:user/dado-backend-local' }],
      ['the role ARN itself (never what API Gateway reports)', [ROLE_ARN], { ...iamCaller(), userArn: ROLE_ARN }],
      ['an account that disagrees with the ARN', [ROLE_ARN], { ...iamCaller(), accountId: OTHER_ACCOUNT }],
      ['no IAM context', [ROLE_ARN], undefined],
      ['anyone, when the list is empty', [], iamCaller()],
    ])('refuses %s', (_what, allowedArns, caller) => {
      // Act
      const refusal = (() => {
        try {
          return authorizeCaller(allowedArns, caller);
        } catch (error) {
          return error;
        }
      })();

      // Assess
      expect(refusal).toMatchObject({ code: 'forbidden', status: 403 });
    });
  });

  describe('callers', () => {
    it('lets the allowed role in from any session and records the session as the caller', async () => {
      // Act
      const connected = await connect('from-session', { caller: iamCaller(ROLE_ARN, 'dado-backend-7f3a'), actor: 'admin-1' });
      const entries = await audit('from-session');

      // Assess
      expect(connected.status).toBe(200);
      expect(entries.body.entries).toEqual([
        expect.objectContaining({ actor: 'admin-1', caller: 'arn:aws:sts::000000000000:assumed-role/dado-backend-local/dado-backend-7f3a' }),
      ]);
    });

    it.each([
      ['another role in the same account', iamCaller('arn:aws:iam::000000000000:role/intruder')],
      ['the allowed role’s name in another account', iamCaller(`arn:aws:iam::${OTHER_ACCOUNT}:role/dado-backend-local`)],
      ['no IAM context at all', null],
    ])('answers %s 403 on every route, before reading or writing anything', async (_what, caller) => {
      // Prepare: a connected tenant with a run, and one never connected
      const tenantId = `guarded-${caller === null ? 'none' : caller.accountId === OTHER_ACCOUNT ? 'other' : 'role'}`;
      expect((await connect(tenantId)).status).toBe(200);
      const { runId } = await importAs(tenantId, 'admin-1');
      const mapping = (await call('GET', `/tenants/${tenantId}/personio`)).body.mapping;
      const before = { guarded: await stored(tenantId), fresh: await stored(`${tenantId}-new`) };
      const requests = [
        ...changes(tenantId, mapping, runId),
        ...reads(tenantId, runId),
        ['PUT', `/tenants/${tenantId}-new/personio`, CREDENTIALS],
        ['PUT', `/tenants/${tenantId}/personio/mapping?preview=2`, mapping],
        ['GET', '/tenants/NOT_VALID/dado'],
      ] as [string, string, unknown?][];
      env.sim!.resetStats();
      const services = { sm: env.stack.secretsManager.calls(), scheduler: env.stack.scheduler.calls(), lambda: env.stack.lambda.calls() };
      const dynamo = injectDynamoFaults();

      // Act
      const outcomes: string[] = [];
      try {
        for (const [method, target, body] of requests) {
          const [path, query] = target.split('?');
          const answer = await call(method, path!, body, query, { caller });
          outcomes.push(`${answer.status} ${answer.body.error?.code}`);
          expect(answer.body.error.message).not.toContain('dado-backend-local');
        }
      } finally {
        dynamo.restore();
      }

      // Assess
      expect(new Set(outcomes)).toEqual(new Set(['403 forbidden']));
      expect(dynamo.stats.calls).toEqual({});
      expect(env.sim!.stats().requests).toBe(0);
      expect({ sm: env.stack.secretsManager.calls(), scheduler: env.stack.scheduler.calls(), lambda: env.stack.lambda.calls() }).toEqual(services);
      expect({ guarded: await stored(tenantId), fresh: await stored(`${tenantId}-new`) }).toEqual(before);
    });
  });

  describe('the actor', () => {
    it.each([
      ['no X-Dado-Actor', 'actor_required', null],
      ['an empty one', 'invalid_actor', ''],
      ['one over 128 characters', 'invalid_actor', 'a'.repeat(129)],
      ['one with a space', 'invalid_actor', 'jane doe'],
      ['two joined (the header sent twice)', 'invalid_actor', 'admin-1,admin-2'],
      ['one outside ASCII', 'invalid_actor', 'jöhn'],
    ])('refuses every change with %s (400 %s) and stores nothing', async (_what, code, actor) => {
      // Prepare
      const tenantId = `acting-${code.replace('_', '-')}-${actor === null ? 0 : actor.length}`;
      expect((await connect(tenantId)).status).toBe(200);
      const { runId } = await importAs(tenantId, 'admin-1');
      const mapping = (await call('GET', `/tenants/${tenantId}/personio`)).body.mapping;
      const before = { tenant: await stored(tenantId), fresh: await stored(`${tenantId}-new`) };
      const lambdaCalls = env.stack.lambda.calls();

      // Act
      const outcomes: string[] = [];
      for (const [method, path, body] of [...changes(tenantId, mapping, runId), ['PUT', `/tenants/${tenantId}-new/personio`, CREDENTIALS]] as const) {
        const answer = await call(method, path, body, undefined, { actor });
        outcomes.push(`${answer.status} ${answer.body.error?.code}`);
      }

      // Assess
      expect(new Set(outcomes)).toEqual(new Set([`400 ${code}`]));
      expect({ tenant: await stored(tenantId), fresh: await stored(`${tenantId}-new`) }).toEqual(before);
      expect(env.stack.lambda.calls()).toEqual(lambdaCalls);
    });

    it('is not needed to read, or to preview a mapping; 128 characters of the allowed set are taken as they are', async () => {
      // Prepare
      await connect('reading');
      const mapping = (await call('GET', '/tenants/reading/personio')).body.mapping;
      const longest = `${'Aa0._:@-'.repeat(16)}`;

      // Act
      const answers = [
        await call('GET', '/tenants/reading/personio', undefined, undefined, { actor: null }),
        await call('PUT', '/tenants/reading/personio/mapping', mapping, 'preview=2', { actor: null }),
        await audit('reading', undefined, { actor: null }),
        await call('PUT', '/tenants/reading/personio/schedule', { enabled: true, every: 'daily' }, undefined, { actor: longest }),
      ];
      const entries = (await audit('reading')).body.entries;

      // Assess
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(entries.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([
        ['schedule_changed', longest],
        ['connected', 'local-admin'],
      ]);
    });
  });

  describe('the audit trail', () => {
    it('records each successful change once, with its admin, caller and what changed, never a secret', async () => {
      // Prepare: the simulator's Position goes unreadable for the second import, so that run is held
      const tenantId = 'audited';
      const readable = Object.keys(env.sim!.employees()[0]!.attributes);

      // Act: every kind of change, each by another admin, and changes that fail
      await connect(tenantId, { actor: 'admin-1' });
      const refused = await connect(tenantId, { actor: 'admin-x' }, { clientId: CREDENTIALS.clientId, clientSecret: 'wrong-secret-5e1f' });
      await connect(tenantId, { actor: 'admin-2' });
      const mapping = (await call('GET', `/tenants/${tenantId}/personio`)).body.mapping;
      await call('PUT', `/tenants/${tenantId}/personio/mapping`, { ...mapping, fields: { ...mapping.fields, office: null } }, undefined, { actor: 'admin-3' });
      await call('PUT', `/tenants/${tenantId}/personio/mapping`, mapping, 'preview=3', { actor: 'admin-x' });
      await call('PUT', `/tenants/${tenantId}/personio/schedule`, { enabled: false, every: 'daily' }, undefined, { actor: 'admin-4' });
      const first = await importAs(tenantId, 'admin-5');
      env.sim!.setKnobs({ readableAttributes: readable.filter((k) => k !== 'position') });
      const held = await importAs(tenantId, 'admin-5');
      env.sim!.setKnobs({ readableAttributes: null });
      await call('POST', `/tenants/${tenantId}/personio/imports/${held.runId}/approve`, undefined, undefined, { actor: 'admin-6' });
      const twice = await call('POST', `/tenants/${tenantId}/personio/imports/${held.runId}/approve`, undefined, undefined, { actor: 'admin-x' });
      await call('DELETE', `/tenants/${tenantId}/personio`, undefined, undefined, { actor: 'admin-7' });
      const afterDisconnect = await call('PUT', `/tenants/${tenantId}/personio/schedule`, { enabled: true }, undefined, { actor: 'admin-x' });
      const trail = await audit(tenantId);

      // Assess
      expect([first.status, held.status]).toEqual(['completed', 'held']);
      expect([refused.status, twice.status, afterDisconnect.status]).toEqual([422, 409, 409]);
      const caller = 'arn:aws:sts::000000000000:assumed-role/dado-backend-local/local';
      expect(trail.body.entries).toEqual([
        expect.objectContaining({
          actor: 'admin-7',
          caller,
          action: 'disconnected',
          details: { clientId: 'sim-*****t-id', previousStatus: 'connected', webhooks: 'none' },
        }),
        expect.objectContaining({ actor: 'admin-6', action: 'run_approved', details: { runId: held.runId, deactivated: 0 } }),
        expect.objectContaining({ actor: 'admin-5', action: 'import_started', details: { runId: held.runId } }),
        expect.objectContaining({ actor: 'admin-5', action: 'import_started', details: { runId: first.runId } }),
        expect.objectContaining({
          actor: 'admin-4',
          action: 'schedule_changed',
          details: { enabled: false, every: 'daily', previous: { enabled: true, every: 'hourly' } },
        }),
        expect.objectContaining({ actor: 'admin-3', action: 'mapping_saved', details: { changes: [{ field: 'fields.office', from: 'office', to: null }] } }),
        expect.objectContaining({
          actor: 'admin-2',
          action: 'reconnected',
          // The local environment configures no webhook URL: connect registers none.
          details: { clientId: 'sim-*****t-id', previousClientId: 'sim-*****t-id', appId: null, webhooks: 'unavailable' },
        }),
        expect.objectContaining({
          actor: 'admin-1',
          caller,
          action: 'connected',
          details: { clientId: 'sim-*****t-id', previousClientId: null, appId: null, webhooks: 'unavailable' },
        }),
      ]);
      const items = await rows(localNames.auditTable, tenantId);
      expect(items).toHaveLength(8);
      expect(JSON.stringify(items)).not.toContain('admin-x');
      expect(leakedSecrets([JSON.stringify(items), ...answers], [CREDENTIALS.clientSecret, 'wrong-secret-5e1f'])).toEqual([]);
    }, 60_000);

    it('lists newest first and pages with limit and cursor until a last page without one', async () => {
      // Prepare: seven entries
      await connect('paged');
      for (const every of ['daily', 'weekly', 'hourly', 'daily', 'every-3-hours', 'every-6-hours'])
        await call('PUT', '/tenants/paged/personio/schedule', { enabled: true, every });

      // Act
      const pages = [await audit('paged', 'limit=3')];
      while (pages.at(-1)!.body.nextCursor !== null && pages.length < 5)
        pages.push(await audit('paged', `limit=3&cursor=${encodeURIComponent(pages.at(-1)!.body.nextCursor)}`));
      const whole = await audit('paged', 'limit=100');

      // Assess
      expect(pages.map((p) => p.body.entries.length)).toEqual([3, 3, 1]);
      const paged = pages.flatMap((p) => p.body.entries);
      expect(paged).toEqual(whole.body.entries);
      expect(whole.body.nextCursor).toBeNull();
      expect(paged.map((e: { details: { every?: string } }) => e.details.every)).toEqual([
        'every-6-hours',
        'every-3-hours',
        'daily',
        'hourly',
        'weekly',
        'daily',
        undefined,
      ]);
      const times = paged.map((e: { at: string }) => e.at);
      expect(times).toEqual([...times].sort().reverse());
    });

    it('answers 50 entries by default, and refuses a limit outside 1–100 or a cursor it did not give, naming the parameter', async () => {
      // Prepare
      await connect('bounded');
      for (let i = 0; i < 50; i++) await call('PUT', '/tenants/bounded/personio/schedule', { enabled: i % 2 === 0 });

      // Act
      const first = await audit('bounded');
      const bad = await Promise.all(
        [
          'limit=0',
          'limit=101',
          'limit=ten',
          'limit=',
          'cursor=abc',
          `cursor=${Buffer.from('2026-01-01T00:00:00.000Z#nope').toString('base64url')}`,
          'page=2',
        ].map((q) => audit('bounded', q)),
      );

      // Assess
      expect([first.body.entries.length, typeof first.body.nextCursor]).toEqual([50, 'string']);
      expect(bad.map((a) => [a.status, a.body.error.code, a.body.error.details[0].field])).toEqual([
        [400, 'invalid_request', 'limit'],
        [400, 'invalid_request', 'limit'],
        [400, 'invalid_request', 'limit'],
        [400, 'invalid_request', 'limit'],
        [400, 'invalid_request', 'cursor'],
        [400, 'invalid_request', 'cursor'],
        [400, 'invalid_request', 'page'],
      ]);
    }, 60_000);

    it('keeps a disconnected tenant’s history readable, and answers an empty list for a tenant without any', async () => {
      // Prepare
      await connect('gone');
      await call('DELETE', '/tenants/gone/personio');

      // Act
      const gone = await audit('gone');
      const never = await audit('never-connected');

      // Assess
      expect(gone.body.entries.map((e: { action: string }) => e.action)).toEqual(['disconnected', 'connected']);
      expect(never.body).toEqual({ tenantId: 'never-connected', entries: [], nextCursor: null });
    });

    it('answers the change when its entry cannot be stored, and logs the whole entry as an error instead', async () => {
      // Prepare: DynamoDB fails the audit table's writes (not contention, so nothing retries them)
      await connect('unrecorded');
      const output = captureOutput({ passThrough: false });
      const faults = injectDynamoFaults([
        { command: 'Put', table: localNames.auditTable, fault: { error: () => Object.assign(new Error('DynamoDB failed'), { name: 'InternalServerError' }) } },
      ]);

      // Act
      let answer: Awaited<ReturnType<typeof call>>;
      try {
        answer = await call('PUT', '/tenants/unrecorded/personio/schedule', { enabled: false }, undefined, { actor: 'admin-9' });
      } finally {
        faults.restore();
        output.stop();
      }

      // Assess: the change happened and says so; the log line carries the entry
      expect(answer.status).toBe(200);
      expect((await env.connections.get('unrecorded'))?.['schedule' as never]).toMatchObject({ enabled: false });
      expect((await audit('unrecorded')).body.entries.map((e: { action: string }) => e.action)).toEqual(['connected']);
      const line = output
        .text()
        .split('\n')
        .find((l) => l.includes('audit entry not stored'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({
        level: 'ERROR',
        auditEntry: { tenantId: 'unrecorded', actor: 'admin-9', action: 'schedule_changed', details: { enabled: false } },
        error: { name: 'InternalServerError' },
      });
    });
  });
});
