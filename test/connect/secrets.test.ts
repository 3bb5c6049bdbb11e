import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { apiCaller, captureOutput, importThroughApi, leakedSecrets, startRotatingPersonio } from '../helpers/connect-support.js';

/**
 * Secrets never leave: every answer of every call in this file, every line the handlers log (at DEBUG, captured
 * from stdout/stderr from before the stack starts) and every error is searched for every secret used.
 * Also: a credential rotated in Personio turns the status into invalid_credentials after the next import.
 */

// Characters that need no escaping in JSON, so a leak cannot hide behind an escape; upper, lower and a digit,
// so the secret cannot occur by chance in an id, a timestamp or a message.
const secretArb = fc.stringMatching(/^[A-Za-z0-9_+=.@!~*-]{12,40}$/).filter((s) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s));

const [ACCEPTED, ROTATING_OLD, ROTATING_NEW] = fc.sample(secretArb, 3) as [string, string, string];

describe('secrets in answers, logs and errors', () => {
  const output = captureOutput({ passThrough: false });
  const answers: string[] = [];
  const secrets = new Set<string>([ACCEPTED, ROTATING_OLD, ROTATING_NEW]);
  let sim: PersonioSim;
  let personio: Awaited<ReturnType<typeof startRotatingPersonio>>;
  let env: LocalEnvironment;
  const call = apiCaller(() => env, answers);

  beforeAll(async () => {
    sim = await startPersonioSim({
      employees: 20,
      credentials: [
        { clientId: 'prop-client', clientSecret: ACCEPTED },
        { clientId: 'rot-client', clientSecret: ROTATING_OLD },
      ],
      // Every refused secret below is an auth call; Personio's 60/min would only slow the property down.
      authPerMinute: 100_000,
    });
    personio = await startRotatingPersonio(sim.url);
    env = await startLocalEnvironment({ personio: { url: personio.url, clientId: 'prop-client', clientSecret: ACCEPTED }, logLevel: 'DEBUG' });
    env.eventSource.start();
  }, 60_000);

  afterAll(async () => {
    output.stop();
    await env?.stack.lambda.idle();
    await env?.stop();
    await personio?.close();
    await sim?.close();
  });

  const importNow = importThroughApi(() => env, call);

  it('uses an accepted secret through every endpoint', async () => {
    // Act
    const connected = await call('PUT', '/tenants/accepted/personio', { clientId: 'prop-client', clientSecret: ACCEPTED });
    const mapping = connected.body.mapping;
    const statuses = [
      connected.status,
      (await call('GET', '/tenants/accepted/personio')).status,
      (await call('GET', '/tenants/accepted/personio/attributes')).status,
      (await call('PUT', '/tenants/accepted/personio/mapping', mapping, 'preview=3')).status,
      (await call('PUT', '/tenants/accepted/personio/mapping', mapping)).status,
      (await call('PUT', '/tenants/accepted/personio/schedule', { enabled: true, every: 'daily' })).status,
    ];
    const report = await importNow('accepted');
    statuses.push((await call('DELETE', '/tenants/accepted/personio')).status);
    statuses.push((await call('PUT', '/tenants/accepted/personio', { clientId: 'prop-client', clientSecret: ACCEPTED })).status);

    // Assess
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
    expect(report).toMatchObject({ status: 'completed', created: 20 });
  });

  it('never echoes a secret, whatever request carries it', async () => {
    await fc.assert(
      fc.asyncProperty(secretArb, async (secret) => {
        secrets.add(secret);
        const put = (body: unknown) => call('PUT', '/tenants/prop/personio', body);

        // Act: refused by Personio, unknown field, malformed JSON, oversized, bad appId, padded
        const refused = await put({ clientId: 'prop-client', clientSecret: secret });
        const unknown = await put({ clientId: 'prop-client', clientSecret: secret, password: secret });
        const malformed = await put(`{"clientId": "prop-client", "clientSecret": "${secret}"`);
        const oversized = await put({ clientId: 'prop-client', clientSecret: secret, padding: secret.repeat(Math.ceil(17_000 / secret.length)) });
        const badAppId = await put({ clientId: 'prop-client', clientSecret: secret, appId: secret });
        const padded = await put({ clientId: 'prop-client', clientSecret: `  ${secret}\t` });

        // Assess
        expect([refused, unknown, malformed, oversized, badAppId, padded].map((a) => a.body.error.code)).toEqual([
          'invalid_credentials',
          'invalid_request',
          'invalid_json',
          'body_too_large',
          'invalid_request',
          'invalid_credentials',
        ]);
        expect(
          leakedSecrets(
            [refused, unknown, malformed, oversized, badAppId, padded].map((a) => a.raw),
            [secret],
          ),
        ).toEqual([]);
      }),
      { numRuns: 15 },
    );
  });

  it('turns the status into invalid_credentials when an import finds the credential rotated in Personio; the new secret reconnects', async () => {
    // Prepare: connected and imported once
    await call('PUT', '/tenants/rotating/personio', { clientId: 'rot-client', clientSecret: ROTATING_OLD });
    expect((await importNow('rotating')).status).toBe('completed');

    // Act: the admin rotates the secret in Personio (the old one is refused, its tokens die)
    personio.rotate('rot-client', ROTATING_OLD, ROTATING_NEW);
    sim.revokeTokens();
    const before = await call('GET', '/tenants/rotating/personio');
    const failed = await importNow('rotating');
    const after = await call('GET', '/tenants/rotating/personio');

    // Assess
    expect(before.body.status).toBe('connected');
    expect(failed.status).toBe('failed');
    expect(failed.findings.map((f) => f.code)).toContain('personio_invalid_credentials');
    expect(after.body).toMatchObject({ status: 'invalid_credentials', message: expect.stringContaining('PUT /tenants/rotating/personio') });
    expect(after.body.runs[0]).toMatchObject({ runId: failed.runId, status: 'failed' });

    // Act: reading Personio with the stored (old) secret says the same; the new secret reconnects
    const attributes = await call('GET', '/tenants/rotating/personio/attributes');
    const reconnected = await call('PUT', '/tenants/rotating/personio', { clientId: 'rot-client', clientSecret: ROTATING_NEW });
    const next = await importNow('rotating');

    // Assess
    expect([attributes.status, attributes.body.error.code]).toEqual([422, 'invalid_credentials']);
    expect(attributes.body.error.message).toContain('rotated or revoked');
    expect(reconnected.body.status).toBe('connected');
    expect(next.status).toBe('completed');
    expect((await call('GET', '/tenants/rotating/personio')).body.status).toBe('connected');
  });

  it('found no secret in any answer, log line or error of this file (and the search saw the logs)', () => {
    // Prepare
    const logs = output.text();
    const errors = env.stack.lambda.failures().map((f) => (f.error instanceof Error ? `${f.error.name}: ${f.error.message}` : String(f.error)));

    // Assess: the search is not vacuous
    expect(answers.length).toBeGreaterThan(100);
    expect(logs).toContain('"message":"request"');
    expect(logs).toContain('"level":"DEBUG"');
    expect(logs).toContain('"message":"fetch finished"');

    // Assess
    expect(leakedSecrets([...answers, logs, ...errors], [...secrets])).toEqual([]);
  });
});
