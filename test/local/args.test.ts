import { describe, expect, it } from 'vitest';
import { DEFAULT_SIM_CREDENTIAL } from '../../local/personio-sim/index.js';
import { parseStartArgs, UsageError } from '../../local/runner/args.js';
import { parseServeArgs } from '../../local/runner/serve-args.js';

// The command lines of npm start and npm run serve: where a Personio credential comes from, and what is refused.
const env = { PERSONIO_CLIENT_ID: 'env-id', PERSONIO_CLIENT_SECRET: 'env-secret' };

describe('npm start: the Personio credential', () => {
  it('comes from the environment with --personio-url, flags winning', () => {
    expect(parseStartArgs(['--personio-url', 'https://api.personio.de'], env).personio).toEqual({
      url: 'https://api.personio.de',
      clientId: 'env-id',
      clientSecret: 'env-secret',
    });
    expect(parseStartArgs(['--personio-url', 'https://api.personio.de', '--client-secret', 'flag-secret'], env).personio).toEqual({
      url: 'https://api.personio.de',
      clientId: 'env-id',
      clientSecret: 'flag-secret',
    });
  });

  it('never switches away from the simulator on the environment alone', () => {
    expect(parseStartArgs([], env).personio).toBeUndefined();
  });

  it('is refused half-given', () => {
    expect(() => parseStartArgs(['--personio-url', 'https://api.personio.de'], { PERSONIO_CLIENT_ID: 'env-id' })).toThrow(UsageError);
  });
});

describe('npm run serve', () => {
  it('serves the simulator with its documented credential by default', () => {
    const args = parseServeArgs([], {});
    expect(args).toMatchObject({ port: 3000, employees: 200, personioUrl: undefined, simulatorCredential: DEFAULT_SIM_CREDENTIAL, defaultCredential: true });
  });

  it("takes the simulator's credential from the environment, flags winning, and marks it as not to be printed", () => {
    expect(parseServeArgs([], env)).toMatchObject({ simulatorCredential: { clientId: 'env-id', clientSecret: 'env-secret' }, defaultCredential: false });
    expect(parseServeArgs(['--client-id', 'flag-id', '--client-secret', 'flag-secret'], env).simulatorCredential).toEqual({
      clientId: 'flag-id',
      clientSecret: 'flag-secret',
    });
  });

  it('refuses a credential given by halves', () => {
    expect(() => parseServeArgs(['--client-id', 'flag-id'], {})).toThrow(/together/);
    expect(() => parseServeArgs([], { PERSONIO_CLIENT_SECRET: 'env-secret' })).toThrow(/together/);
  });

  it('with --personio-url, serves that Personio and leaves the credential to connect: the environment is not read, simulator flags are refused', () => {
    expect(parseServeArgs(['--personio-url', 'http://127.0.0.1:4100'], env)).toMatchObject({
      personioUrl: 'http://127.0.0.1:4100',
      simulatorCredential: DEFAULT_SIM_CREDENTIAL,
    });
    for (const flags of [
      ['--employees', '10'],
      ['--client-id', 'a', '--client-secret', 'b'],
    ])
      expect(() => parseServeArgs(['--personio-url', 'http://127.0.0.1:4100', ...flags], {})).toThrow(/does not go with --personio-url/);
    expect(() => parseServeArgs(['--personio-url', 'ftp://x'], {})).toThrow(/http\(s\) URL/);
  });
});

describe('webhook port and change events', () => {
  it('serves the webhook route on the next port by default, or the one given, never on the API port', () => {
    expect(parseServeArgs([], {})).toMatchObject({ port: 3000, webhookPort: 3001, events: undefined });
    expect(parseServeArgs(['--port', '4000', '--webhook-port', '5000', '--events', 'e.jsonl'], {})).toMatchObject({
      port: 4000,
      webhookPort: 5000,
      events: 'e.jsonl',
    });
    expect(() => parseServeArgs(['--port', '4000', '--webhook-port', '4000'], {})).toThrow(/--webhook-port must differ from --port/);
  });

  it('npm start writes change events only when asked', () => {
    expect(parseStartArgs([], {}).events).toBeUndefined();
    expect(parseStartArgs(['--events', 'out/events.jsonl'], {}).events).toBe('out/events.jsonl');
  });
});
