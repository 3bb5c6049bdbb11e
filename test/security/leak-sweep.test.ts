import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PersonioClient, clearTokenCache } from '../../lib/personio/client.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { simSecrets } from '../../local/personio-sim/issued.js';
import { checkCaptured, findLeaks, knownSecrets, muted, registerSecret, takeCaptured, type KnownSecret } from '../helpers/leak-sweep.js';

/**
 * The global leak sweep (test/helpers/leak-sweep.ts, a setup file of every test file) can fail: its detector finds
 * every spelling of a secret, and its capture sees stdout, stderr, the console and Powertools log lines. Each test
 * plants a leak, checks that the sweep reports it, and takes the planted output back so the sweep's own afterEach
 * passes.
 */

const CANARY: KnownSecret = { label: 'canary', value: 's3cr3t-LEAK-CANARY-sweep/+= "x"', clientId: 'canary-client' };

describe('the leak detector', () => {
  it('finds a secret raw, JSON-escaped, URL-encoded, in base64 and in Basic authorization form', () => {
    // Prepare
    const basic = Buffer.from(`${CANARY.clientId}:${CANARY.value}`).toString('base64');
    const texts = {
      raw: `client secret is ${CANARY.value}`,
      json: JSON.stringify({ clientSecret: CANARY.value }),
      url: `client_secret=${encodeURIComponent(CANARY.value)}`,
      base64: `blob ${Buffer.from(CANARY.value).toString('base64')}`,
      basic: `Authorization: Basic ${basic}`,
    };

    // Act
    const found = Object.fromEntries(Object.entries(texts).map(([k, text]) => [k, findLeaks(text, [CANARY]).map((l) => l.form)]));

    // Assess
    expect(found).toEqual({
      raw: expect.arrayContaining(['raw']),
      json: expect.arrayContaining(['json-escaped']),
      url: expect.arrayContaining(['url-encoded']),
      base64: expect.arrayContaining(['base64']),
      basic: expect.arrayContaining(['basic-auth']),
    });
  });

  it('finds a secret inside a larger base64 blob at every byte alignment, followed by more data', () => {
    // Prepare: base64'd JSON blobs with the secret starting at a byte offset ≡ 0, 1 and 2 (mod 3), and a near miss
    const secret: KnownSecret = { label: 'blob canary', value: 's3cr3t-LEAK-CANARY-base64-blob' };
    const blob = (key: string, value: string) => Buffer.from(JSON.stringify({ [key]: value, after: 'more data' })).toString('base64');
    const keys = ['s', 's1', 's12'];
    const offsets = keys.map((key) => JSON.stringify({ [key]: secret.value }).indexOf(secret.value) % 3);
    expect(offsets).toEqual([0, 1, 2]);

    // Act
    const found = keys.map((key) => findLeaks(`log: ${blob(key, secret.value)}`, [secret]).map((l) => l.form));
    const nearMiss = keys.flatMap((key) => findLeaks(`log: ${blob(key, secret.value.replace('blob', 'blub'))}`, [secret]));

    // Assess
    expect(found).toEqual([['base64'], ['base64 (offset 1 mod 3)'], ['base64 (offset 2 mod 3)']]);
    expect(nearMiss).toEqual([]);
  });

  it('finds nothing in text without the secret, and never puts the secret into its report', () => {
    // Act
    const clean = findLeaks('{"clientId":"canar********ient","message":"s3cr3t-LEAK-CANARY-swee"}', [CANARY]);
    const report = JSON.stringify(findLeaks(`x ${CANARY.value} y`, [CANARY]));

    // Assess
    expect(clean).toEqual([]);
    expect(report).toContain('canary');
    expect(report).not.toContain(CANARY.value);
  });

  it('looks for the default simulator secret, registered canaries, and not for secrets too short to be told from text', () => {
    // Prepare
    registerSecret('s3cr3t-LEAK-CANARY-registered', 'registered canary');
    registerSecret('short', 'too short');

    // Act
    const labels = knownSecrets().map((s) => s.label);

    // Assess
    expect(labels).toContain('the simulator default client secret');
    expect(labels).toContain('registered canary');
    expect(labels).not.toContain('too short');
  });
});

describe('the capture of the sweep', () => {
  let sim: PersonioSim;
  const simCredential = { clientId: 'sweep-client', clientSecret: 's3cr3t-LEAK-CANARY-sweep-sim' };

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 1, credentials: [simCredential] });
  });

  afterAll(async () => {
    await sim?.close();
    clearTokenCache();
  });

  it('reports a token the in-process simulator minted when it is written to the console', async () => {
    // Prepare: a real token from the simulator
    const client = new PersonioClient({ baseUrl: sim.url, appId: 'DADO', credentials: simCredential });
    await client.authenticate();
    const token = simSecrets().tokens.at(-1) ?? '';
    expect(token).toMatch(/^papi-/);

    // Act
    muted(() => console.log('calling Personio with', { headers: { Authorization: `Bearer ${token}` } }));

    // Assess
    expect(() => checkCaptured('in this test')).toThrow(/simulator token #\d+ \(raw\)/);
  });

  it('reports a simulator client secret written to process.stderr, in Basic form', () => {
    // Act
    muted(() => process.stderr.write(`auth header: Basic ${Buffer.from(`${simCredential.clientId}:${simCredential.clientSecret}`).toString('base64')}\n`));

    // Assess
    expect(() => checkCaptured('in this test')).toThrow(/client secret of simulator client sweep-client \(basic-auth\)/);
  });

  it('sees a Powertools log line (written through process.stdout) carrying a registered canary', () => {
    // Prepare
    registerSecret('s3cr3t-LEAK-CANARY-powertools', 'powertools canary');
    const logger = new Logger({ serviceName: 'leak-sweep-test', logLevel: 'DEBUG' });

    // Act
    muted(() => logger.debug('credentials', { clientSecret: 's3cr3t-LEAK-CANARY-powertools' }));
    const written = takeCaptured();

    // Assess
    expect(written).toContain('"service":"leak-sweep-test"');
    expect(findLeaks(written).map((l) => l.label)).toEqual(['powertools canary']);
  });

  it('passes a test whose output carries no secret', () => {
    // Act
    console.log('| fault | lost users | duplicates |');
    process.stdout.write('a log line without secrets\n');

    // Assess
    expect(() => checkCaptured('in this test')).not.toThrow();
  });
});
