import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../lib/connect/api.js';
import { LambdaFetchInvoker } from '../../lib/imports/invoker.js';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { RunReport } from '../../lib/runs/run.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { apiCaller, asLocalAdmin, connectDeps, countingDb, importThroughApi, specViolations } from '../helpers/connect-support.js';
import { userFieldNames } from '../../lib/mapping/mapping.js';

const CREDENTIALS = { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' };

describe('the connect API endpoints', () => {
  let env: LocalEnvironment;
  let secrets: SecretsManagerClient;
  // Every answer is checked against docs/openapi.yaml as it arrives.
  const call = apiCaller(() => env);

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 30 } });
    env.eventSource.start();
    secrets = new SecretsManagerClient({});
  }, 60_000);

  afterAll(async () => {
    await env?.stack.lambda.idle();
    await env?.stop();
  });

  beforeEach(() => {
    env.sim!.setKnobs({ readableAttributes: null, employeesPerMinute: 300 });
    env.stack.scheduler.setUnavailable(false);
    env.stack.secretsManager.setUnavailable(false);
  });

  const connect = (tenantId: string, body: object = CREDENTIALS) => call('PUT', `/tenants/${tenantId}/personio`, body);
  const schedule = (tenantId: string) => env.stack.scheduler.schedules().find((s) => s.Name === `personio-${tenantId}`);

  const importNow = importThroughApi(() => env, call);

  describe('PUT /tenants/{tenantId}/personio', () => {
    it('creates the tenant schedule (hourly by default, in the group, targeting the fetch in a flexible window)', async () => {
      // Act
      const response = await connect('sched');

      // Assess
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ appId: null, schedule: { enabled: true, every: 'hourly', expression: 'rate(1 hour)', flexibleWindowMinutes: 15 } });
      expect(schedule('sched')).toMatchObject({
        GroupName: localNames.scheduleGroup,
        ScheduleExpression: 'rate(1 hour)',
        State: 'ENABLED',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: {
          Arn: process.env['FETCH_FUNCTION_ARN'],
          RoleArn: process.env['SCHEDULER_ROLE_ARN'],
          Input: '{"tenantId":"sched","scheduledAt":"<aws.scheduler.scheduled-time>"}',
        },
      });
    });

    it('records an App ID with the connection, and says that Personio calls keep the deployment’s', async () => {
      // Act
      const response = await connect('appid', { ...CREDENTIALS, appId: 'ACME_HR' });
      const status = await call('GET', '/tenants/appid/personio');

      // Assess
      expect(response.status).toBe(200);
      expect(response.body.appId).toBe('ACME_HR');
      expect(response.body.warnings).toContain(
        "App ID ACME_HR is recorded with the connection, but Personio calls identify as DADO, Dado's App ID (the same for every tenant).",
      );
      expect(status.body.appId).toBe('ACME_HR');
    });

    it('keeps the tenant’s mapping and schedule on a reconnect, and stores the credentials as a new secret version', async () => {
      // Prepare
      await connect('again');
      const mapping = (await call('GET', '/tenants/again/personio')).body.mapping;
      await call('PUT', '/tenants/again/personio/mapping', { ...mapping, fields: { ...mapping.fields, position: null } });
      await call('PUT', '/tenants/again/personio/schedule', { enabled: true, every: 'daily' });

      // Act
      const response = await connect('again');

      // Assess
      expect(response.status).toBe(200);
      expect(response.body.mapping.fields.position).toBeNull();
      expect(response.body.schedule).toMatchObject({ every: 'daily', expression: 'rate(1 day)' });
      expect(schedule('again')?.ScheduleExpression).toBe('rate(1 day)');
      const described = await secrets.send(new DescribeSecretCommand({ SecretId: 'dado/personio/again' }));
      expect(
        Object.values(described.VersionIdsToStages ?? {})
          .flat()
          .sort(),
      ).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    });

    it('answers 503 secrets_unavailable when Secrets Manager is down, and saves no connection', async () => {
      // Prepare
      env.stack.secretsManager.setUnavailable(true);

      // Act
      const response = await connect('sm-down');

      // Assess
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('secrets_unavailable');
      expect(await env.connections.get('sm-down')).toBeUndefined();
      expect(schedule('sm-down')).toBeUndefined();
    });

    it('answers 503 schedule_unavailable when Scheduler is down, and saves no connection', async () => {
      // Prepare
      env.stack.scheduler.setUnavailable(true);

      // Act
      const response = await connect('sched-down');

      // Assess
      expect(response.status).toBe(503);
      expect(response.body.error).toMatchObject({ code: 'schedule_unavailable', message: expect.stringContaining('Send the same request again') });
      expect(await env.connections.get('sched-down')).toBeUndefined();
    });

    it('answers 503 personio_rate_limited when Personio keeps answering 429', async () => {
      // Prepare
      env.sim!.setKnobs({ employeesPerMinute: 0 });

      // Act
      const response = await connect('limited');

      // Assess
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('personio_rate_limited');
      expect(await env.connections.get('limited')).toBeUndefined();
    });
  });

  describe('GET /tenants/{tenantId}/personio/attributes', () => {
    it('lists the readable attributes with labels, types, options and what each is mapped to', async () => {
      // Prepare
      await connect('attrs');

      // Act
      const response = await call('GET', '/tenants/attrs/personio/attributes');

      // Assess
      expect(response.status).toBe(200);
      const byKey = new Map<string, { label: string; type: string; options: string[]; mappedTo: string[] }>(
        response.body.attributes.map((a: { key: string }) => [a.key, a]),
      );
      expect(byKey.get('email')).toMatchObject({ label: 'Email', mappedTo: ['email'] });
      expect(byKey.get('hire_date')).toMatchObject({ type: 'date', mappedTo: ['hireDate'] });
      expect(response.body.attributes.some((a: { options: string[] }) => a.options.length > 0)).toBe(true);
      expect(response.body.warnings).toEqual([]);
    });

    it('refreshes what the mapping is checked against: an attribute enabled in Personio after the connect can be mapped', async () => {
      // Prepare: connected while Position was not readable
      env.sim!.setKnobs({ readableAttributes: ['email', 'first_name', 'last_name', 'status'] });
      await connect('later');
      const mapping = (await call('GET', '/tenants/later/personio')).body.mapping;
      const wanted = { ...mapping, fields: { ...mapping.fields, position: 'position' } };
      const refused = await call('PUT', '/tenants/later/personio/mapping', wanted);
      env.sim!.setKnobs({ readableAttributes: null });

      // Act
      const attributes = await call('GET', '/tenants/later/personio/attributes');
      const accepted = await call('PUT', '/tenants/later/personio/mapping', wanted);

      // Assess
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'invalid_mapping', message: expect.stringContaining('fields.position: position is not readable') });
      expect(attributes.body.attributes.map((a: { key: string }) => a.key)).toContain('position');
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ saved: true, mapping: { fields: { position: 'position' } } });
    });
  });

  describe('PUT /tenants/{tenantId}/personio/mapping', () => {
    it('saves a mapping; the status shows it', async () => {
      // Prepare
      const { mapping } = (await connect('map')).body;
      const birthday = mapping.fields.birthday as string;

      // Act
      const response = await call('PUT', '/tenants/map/personio/mapping', {
        fields: { ...mapping.fields, preferredName: null, birthday: null },
        customFields: { dateOfBirth: birthday },
      });

      // Assess
      expect(response.status).toBe(200);
      const saved = (await call('GET', '/tenants/map/personio')).body.mapping;
      expect(saved.fields).toMatchObject({ preferredName: null, birthday: null, email: 'email' });
      expect(saved.customFields).toEqual({ dateOfBirth: birthday });
    });

    it('refuses every unreadable attribute with 400 invalid_mapping naming each field', async () => {
      // Prepare
      env.sim!.setKnobs({ readableAttributes: ['email', 'first_name', 'last_name', 'status', 'position'] });
      const { mapping } = (await connect('unreadable')).body;

      // Act
      const response = await call('PUT', '/tenants/unreadable/personio/mapping', {
        fields: { ...mapping.fields, office: 'office', managerPersonioId: 'supervisor' },
        customFields: { shirt: 'dynamic_424242' },
      });

      // Assess
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_mapping');
      expect(response.body.error.details.map((d: { field: string }) => d.field)).toEqual(['fields.office', 'fields.managerPersonioId', 'customFields.shirt']);
      expect((await env.connections.get('unreadable'))?.mapping).toEqual(mapping);
    });

    it('previews how employees would map and what would change for imported users, and changes nothing', async () => {
      // Prepare: an imported tenant, and a mapping that reads the first name from the last name
      const { mapping } = (await connect('preview')).body;
      await importNow('preview');
      const usersBefore = await env.users.list('preview');
      const connectionBefore = await env.connections.get('preview');
      const runsBefore = await env.runs.list('preview', 10);
      env.sim!.resetStats();
      const proposed = { ...mapping, fields: { ...mapping.fields, firstName: 'last_name' } };

      // Act
      const response = await call('PUT', '/tenants/preview/personio/mapping', proposed, 'preview=5');

      // Assess: five employees, each change named old → new
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ saved: false, mapping: proposed });
      expect(response.body.employees).toHaveLength(5);
      for (const employee of response.body.employees) {
        const user = usersBefore.find((u) => u.personioId === employee.personioId)!;
        expect(employee.userId).toBe(user.userId);
        expect(employee.fields.firstName).toBe(user.lastName);
        const expected = user.firstName === user.lastName ? [] : [{ field: 'firstName', from: user.firstName, to: user.lastName }];
        expect(employee.changes).toEqual(expected);
        expect(employee.outcome).toBe(expected.length > 0 ? 'changed' : 'unchanged');
      }
      // Assess: one page of 5 from Personio, and nothing stored changed
      expect(env.sim!.stats()).toMatchObject({ employeeListRequests: 1, maxLimitRequested: 5 });
      expect(await env.users.list('preview')).toEqual(usersBefore);
      expect(await env.connections.get('preview')).toEqual(connectionBefore);
      expect(await env.runs.list('preview', 10)).toEqual(runsBefore);
    });

    it('previews employees not imported yet as new', async () => {
      // Prepare
      const { mapping } = (await connect('fresh')).body;

      // Act
      const response = await call('PUT', '/tenants/fresh/personio/mapping', mapping, 'preview=3');

      // Assess
      expect(response.body.counts).toEqual({ new: 3, changed: 0, unchanged: 0, unmappable: 0 });
      expect(await env.users.list('fresh')).toEqual([]);
    });
  });

  describe('PUT /tenants/{tenantId}/personio/schedule', () => {
    it('turns the schedule off and sets the interval; omitting the interval keeps it', async () => {
      // Prepare
      await connect('interval');

      // Act
      const off = await call('PUT', '/tenants/interval/personio/schedule', { enabled: false, every: 'weekly' });
      const offInStandIn = schedule('interval');
      const on = await call('PUT', '/tenants/interval/personio/schedule', { enabled: true });

      // Assess
      expect(off.status).toBe(200);
      expect(off.body.schedule).toMatchObject({ enabled: false, every: 'weekly', expression: 'rate(7 days)' });
      expect(offInStandIn).toMatchObject({ State: 'DISABLED', ScheduleExpression: 'rate(7 days)' });
      expect(on.body.schedule).toMatchObject({ enabled: true, every: 'weekly' });
      expect(schedule('interval')).toMatchObject({ State: 'ENABLED', ScheduleExpression: 'rate(7 days)' });
      expect((await call('GET', '/tenants/interval/personio')).body.schedule).toMatchObject({ enabled: true, every: 'weekly' });
    });

    it('answers 503 schedule_unavailable when Scheduler is down, and keeps the schedule it had', async () => {
      // Prepare
      await connect('sched-fail');
      env.stack.scheduler.setUnavailable(true);

      // Act
      const response = await call('PUT', '/tenants/sched-fail/personio/schedule', { enabled: true, every: 'daily' });

      // Assess
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('schedule_unavailable');
      env.stack.scheduler.setUnavailable(false);
      expect((await call('GET', '/tenants/sched-fail/personio')).body.schedule).toMatchObject({ every: 'hourly' });
    });
  });

  describe('imports', () => {
    it('starts an import now (202 with the run id), whose report the API then answers; the status lists it', async () => {
      // Prepare
      await connect('now');

      // Act
      const report = await importNow('now');
      const status = await call('GET', '/tenants/now/personio');

      // Assess
      expect(report).toMatchObject({ tenantId: 'now', status: 'completed', employeesFetched: 30, created: 30 });
      expect(status.body.runs.map((r: RunReport) => r.runId)).toEqual([report.runId]);
      expect(status.body.runs[0]).toMatchObject({ status: 'completed', created: 30 });
    });

    it('answers 409 import_running with the running run while a run holds the tenant', async () => {
      // Prepare: a run that is fetching, within its lease, and holds the tenant
      await connect('busy');
      const runId = '20250301T120000.000Z-00000000';
      await env.runs.create({
        tenantId: 'busy',
        runId,
        mode: 'full',
        trigger: 'test',
        mapping: (await env.connections.get('busy'))!.mapping,
        startedAt: new Date(),
        leaseExpiresAt: Date.now() + 60_000,
      });
      expect(await env.connections.claimRun('busy', runId, Date.now() + 60_000)).toEqual({ claimed: true });

      // Act
      const response = await call('POST', '/tenants/busy/personio/imports');

      // Assess
      expect(response.status).toBe(409);
      expect(response.body.error).toMatchObject({ code: 'import_running', details: { runId: '20250301T120000.000Z-00000000' } });
      expect(response.body.error.message).toContain('GET /tenants/busy/personio/imports/20250301T120000.000Z-00000000');
      await env.connections.releaseRun('busy', runId);
    });

    it('answers 503 import_unavailable when Lambda cannot start the fetch', async () => {
      // Prepare
      await connect('no-lambda');
      const deps = connectDeps({ imports: new LambdaFetchInvoker(new LambdaClient({}), 'no-such-function') });

      // Act
      const response = await handleApiRequest(deps, { method: 'POST', path: '/tenants/no-lambda/personio/imports', body: undefined, ...asLocalAdmin });

      // Assess
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ error: { code: 'import_unavailable' } });
      expect(specViolations('POST', '/tenants/no-lambda/personio/imports', response.status, response.body)).toEqual([]);
    });

    it('answers 404 run_not_found for an unknown run and for another tenant’s run', async () => {
      // Prepare
      await connect('mine');
      const { runId } = await importNow('mine');

      // Act
      const unknown = await call('GET', '/tenants/mine/personio/imports/20250301T120000.000Z-00000000');
      const foreign = await call('GET', `/tenants/other/personio/imports/${runId}`);

      // Assess
      expect([unknown.status, unknown.body.error.code]).toEqual([404, 'run_not_found']);
      expect([foreign.status, foreign.body.error.code]).toEqual([404, 'run_not_found']);
    });

    it('approves a held run (200), refuses it twice (409 run_not_held), and refuses a superseded one (409 run_superseded)', async () => {
      // Prepare: a run held because Position vanished for everyone
      await connect('held');
      await importNow('held');
      env.sim!.setKnobs({
        readableAttributes: (env.sim!.knobs().readableAttributes ?? Object.keys(env.sim!.employees()[0]!.attributes)).filter((k) => k !== 'position'),
      });
      const held = await importNow('held');
      expect(held.status).toBe('held');

      // Act
      const approved = await call('POST', `/tenants/held/personio/imports/${held.runId}/approve`);
      const twice = await call('POST', `/tenants/held/personio/imports/${held.runId}/approve`);

      // Assess
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ runId: held.runId, status: 'completed' });
      expect(approved.body.findings.map((f: { code: string }) => f.code)).toContain('deactivation_approved');
      expect([twice.status, twice.body.error.code]).toEqual([409, 'run_not_held']);

      // Prepare: another held run, then Personio recovers and a newer run completes
      const heldAgain = await importNow('held');
      expect(heldAgain.status).toBe('held');
      env.sim!.setKnobs({ readableAttributes: null });
      expect((await importNow('held')).status).toBe('completed');

      // Act
      const superseded = await call('POST', `/tenants/held/personio/imports/${heldAgain.runId}/approve`);
      const unknown = await call('POST', '/tenants/held/personio/imports/20250301T120000.000Z-00000000/approve');

      // Assess
      expect([superseded.status, superseded.body.error.code]).toEqual([409, 'run_superseded']);
      expect([unknown.status, unknown.body.error.code]).toEqual([404, 'run_not_found']);
    });
  });

  describe('DELETE /tenants/{tenantId}/personio', () => {
    it('deletes the schedule and the secret (recoverable), marks the connection disconnected, keeps the users; PUT reconnects', async () => {
      // Prepare
      await connect('leaving');
      await importNow('leaving');
      const users = await env.users.list('leaving');

      // Act
      const response = await call('DELETE', '/tenants/leaving/personio');

      // Assess: disconnected, users untouched
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ status: 'disconnected', message: expect.stringContaining('7-day recovery window') });
      expect(schedule('leaving')).toBeUndefined();
      expect((await secrets.send(new DescribeSecretCommand({ SecretId: 'dado/personio/leaving' }))).DeletedDate).toBeInstanceOf(Date);
      const status = await call('GET', '/tenants/leaving/personio');
      expect(status.body).toMatchObject({ status: 'disconnected', schedule: null, disconnectedAt: expect.any(String) });
      expect(status.body.runs).toHaveLength(1);
      expect(await env.users.list('leaving')).toEqual(users);

      // Act / Assess: what needs a connection says so; a second DELETE is harmless
      for (const [method, path, body] of [
        ['POST', '/tenants/leaving/personio/imports', undefined],
        ['GET', '/tenants/leaving/personio/attributes', undefined],
        ['PUT', '/tenants/leaving/personio/schedule', { enabled: true }],
        ['PUT', '/tenants/leaving/personio/mapping', status.body.mapping],
      ] as const) {
        const refused = await call(method, path, body);
        expect([refused.status, refused.body.error.code]).toEqual([409, 'disconnected']);
      }
      expect((await call('DELETE', '/tenants/leaving/personio')).status).toBe(200);

      // Act: connect again (the secret scheduled for deletion is restored)
      const back = await connect('leaving');

      // Assess
      expect(back.status).toBe(200);
      expect((await call('GET', '/tenants/leaving/personio')).body).toMatchObject({ status: 'connected', disconnectedAt: null, schedule: { every: 'hourly' } });
      expect(schedule('leaving')).toBeDefined();
      const stored = await secrets.send(new GetSecretValueCommand({ SecretId: 'dado/personio/leaving' }));
      expect(JSON.parse(stored.SecretString ?? '{}')).toEqual(CREDENTIALS);
    });

    it('answers 503 schedule_unavailable when Scheduler is down, and stays connected', async () => {
      // Prepare
      await connect('stay');
      env.stack.scheduler.setUnavailable(true);

      // Act
      const response = await call('DELETE', '/tenants/stay/personio');

      // Assess
      expect([response.status, response.body.error.code]).toEqual([503, 'schedule_unavailable']);
      expect((await env.connections.get('stay'))?.status).toBe('connected');
    });
  });

  describe.each([
    ['GET', '/tenants/nobody/personio', undefined, 'not_connected'],
    ['DELETE', '/tenants/nobody/personio', undefined, 'not_connected'],
    ['GET', '/tenants/nobody/personio/attributes', undefined, 'not_connected'],
    ['PUT', '/tenants/nobody/personio/schedule', { enabled: true }, 'not_connected'],
    ['POST', '/tenants/nobody/personio/imports', undefined, 'not_connected'],
    ['GET', '/tenants/nobody/personio/imports/20250301T120000.000Z-00000000', undefined, 'run_not_found'],
    ['POST', '/tenants/nobody/personio/imports/20250301T120000.000Z-00000000/approve', undefined, 'not_connected'],
  ])('%s %s for a tenant that never connected', (method, path, body, code) => {
    it(`answers 404 ${code} with a message that says what to do`, async () => {
      // Act
      const response = await call(method, path, body);

      // Assess
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe(code);
      expect(response.body.error.message).toContain('nobody');
    });
  });

  const validMapping = {
    // Every user field unmapped but these four.
    fields: {
      ...Object.fromEntries(userFieldNames.map((field) => [field, null])),
      email: 'email',
      firstName: 'first_name',
      lastName: 'last_name',
      status: 'status',
    },
    customFields: {},
  };
  const RUN = '20250301T120000.000Z-00000000';

  describe.each([
    ['PUT', '/tenants/t-bad/personio', undefined, { clientId: 'abc', clientSecret: 'abc', appId: 'lower-case' }, 'invalid_request', 'appId'],
    ['PUT', '/tenants/t-bad/personio', undefined, { clientId: ' ', clientSecret: 'abc' }, 'invalid_request', 'clientId'],
    ['GET', '/tenants/UPPER/personio', undefined, undefined, 'invalid_tenant_id', 'tenantId'],
    ['DELETE', '/tenants/t-bad/personio', undefined, { force: true }, 'invalid_request', 'force'],
    ['GET', '/tenants/t-bad/personio/attributes', 'refresh=1', undefined, 'invalid_request', 'refresh'],
    ['PUT', '/tenants/t-bad/personio/mapping', undefined, '{"fields": ', 'invalid_json', undefined],
    ['PUT', '/tenants/t-bad/personio/mapping', undefined, '', 'invalid_request', '(body)'],
    ['PUT', '/tenants/t-bad/personio/mapping', undefined, { ...validMapping, fields: { ...validMapping.fields, email: 5 } }, 'invalid_request', 'fields.email'],
    [
      'PUT',
      '/tenants/t-bad/personio/mapping',
      undefined,
      { ...validMapping, fields: { ...validMapping.fields, email: null } },
      'invalid_request',
      'fields.email',
    ],
    [
      'PUT',
      '/tenants/t-bad/personio/mapping',
      undefined,
      { ...validMapping, fields: { ...validMapping.fields, nickname: 'x' } },
      'invalid_request',
      'nickname',
    ],
    ['PUT', '/tenants/t-bad/personio/mapping', undefined, { ...validMapping, customFields: { shirt: 'first_name' } }, 'invalid_request', 'customFields.shirt'],
    ['PUT', '/tenants/t-bad/personio/mapping', undefined, { fields: { email: 'email' } }, 'invalid_request', 'fields.firstName'],
    ['PUT', '/tenants/t-bad/personio/mapping', 'preview=0', validMapping, 'invalid_request', 'preview'],
    ['PUT', '/tenants/t-bad/personio/mapping', 'preview=51', validMapping, 'invalid_request', 'preview'],
    ['PUT', '/tenants/t-bad/personio/mapping', 'preview=five', validMapping, 'invalid_request', 'preview'],
    ['PUT', '/tenants/t-bad/personio/mapping', 'preview=2&preview=3', validMapping, 'invalid_request', 'preview'],
    ['PUT', '/tenants/t-bad/personio/mapping', 'dryRun=1', validMapping, 'invalid_request', 'dryRun'],
    ['PUT', '/tenants/t-bad/personio/mapping', undefined, { ...validMapping, notes: 'x'.repeat(17_000) }, 'body_too_large', undefined],
    ['PUT', '/tenants/t-bad/personio/schedule', undefined, { enabled: true, every: 'monthly' }, 'invalid_request', 'every'],
    ['PUT', '/tenants/t-bad/personio/schedule', undefined, { every: 'daily' }, 'invalid_request', 'enabled'],
    ['PUT', '/tenants/t-bad/personio/schedule', undefined, { enabled: 'yes' }, 'invalid_request', 'enabled'],
    ['PUT', '/tenants/t-bad/personio/schedule', undefined, { enabled: true, cron: '* * * * *' }, 'invalid_request', 'cron'],
    ['POST', '/tenants/t-bad/personio/imports', undefined, { mode: 'full' }, 'invalid_request', 'mode'],
    ['POST', '/tenants/..%2Fother/personio/imports', undefined, undefined, 'invalid_tenant_id', 'tenantId'],
    ['GET', '/tenants/t-bad/personio/imports/latest', undefined, undefined, 'invalid_request', 'runId'],
    ['GET', '/tenants/t-bad/personio/imports/..%2F..%2Fx', undefined, undefined, 'invalid_request', 'runId'],
    ['POST', `/tenants/t-bad/personio/imports/${RUN}/approve`, undefined, { force: true }, 'invalid_request', 'force'],
    ['PATCH', '/tenants/t-bad/personio/mapping', undefined, validMapping, 'method_not_allowed', 'PUT'],
    ['GET', '/tenants/t-bad/personio/imports', undefined, undefined, 'method_not_allowed', 'POST'],
    ['GET', '/tenants/t-bad/dado', undefined, undefined, 'not_found', '/tenants/t-bad/dado'],
  ])('%s %s?%s with a bad request', (method, path, query, body, code, field) => {
    it(`is answered ${code} naming ${field ?? 'the problem'}, before anything reaches Personio, Secrets Manager, Scheduler, Lambda or DynamoDB`, async () => {
      // Prepare
      const db = countingDb();
      const deps = connectDeps({}, db);
      env.sim!.resetStats();
      const before = { sm: total(env.stack.secretsManager.calls()), scheduler: total(env.stack.scheduler.calls()), lambda: total(env.stack.lambda.calls()) };

      // Act
      const response = await handleApiRequest(deps, {
        ...asLocalAdmin,
        method,
        path,
        query,
        body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body),
      });

      // Assess
      const error = (response.body as { error: { code: string; message: string } }).error;
      expect([response.status >= 400 && response.status < 500, error.code]).toEqual([true, code]);
      if (field) expect(error.message).toContain(field);
      expect(specViolations(method, path.split('?')[0]!, response.status, response.body)).toEqual([]);
      expect(db.calls).toBe(0);
      expect(env.sim!.stats().requests).toBe(0);
      expect({ sm: total(env.stack.secretsManager.calls()), scheduler: total(env.stack.scheduler.calls()), lambda: total(env.stack.lambda.calls()) }).toEqual(
        before,
      );
    });
  });
});

const total = (calls: Record<string, number>): number => Object.values(calls).reduce((a, b) => a + b, 0);
