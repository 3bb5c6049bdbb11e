import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { PersonioClient, clearTokenCache, type PersonioClientOptions } from '../../lib/personio/client.js';
import { PersonioError } from '../../lib/personio/errors.js';
import { RateLimiter, personioEmployeeWindows } from '../../lib/personio/rate-limiter.js';
import { defaultKnobs, startPersonioSim, type PersonioSim, type SimCredential } from '../../local/personio-sim/index.js';

/** What the Personio client's tests share: the credential under test, a recording fetch, and one simulator per file. */

export const CREDENTIALS: SimCredential = { clientId: 'papi-client-under-test', clientSecret: 'papi-s3cret-4711-must-not-leak' };
export const WRONG_SECRET = 'papi-wrong-s3cret-0815-must-not-leak';
export const APP_ID = 'DADO_IMPORT_TEST';
export const EMPLOYEES = 250;

/** One request as our fetch wrapper saw it leave, and what came back. */
export interface Sent {
  method: string;
  url: URL;
  appId: string | null;
  authorization: string | null;
  at: number;
  status?: number;
  answeredAt?: number;
}

/** Wraps the real fetch so a test can see every request the client sends, retries included. */
export function recordingFetch(sent: Sent[]): typeof globalThis.fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const headers = request ? request.headers : new Headers(init?.headers);
    const entry: Sent = {
      method: request?.method ?? init?.method ?? 'GET',
      url: new URL(request ? request.url : String(input)),
      appId: headers.get('x-personio-app-id'),
      authorization: headers.get('authorization'),
      at: Date.now(),
    };
    sent.push(entry);
    const response = await globalThis.fetch(input, init);
    entry.status = response.status;
    entry.answeredAt = Date.now();
    return response;
  };
}

/** The PersonioError a call rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(call: Promise<unknown>): Promise<PersonioError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(PersonioError);
    return error as PersonioError;
  }
  throw new Error('expected the call to fail with a PersonioError, but it succeeded');
}

/** Every rendering of an error that could end up in a log line or a run report. */
export function renderings(error: PersonioError): string[] {
  return [
    error.message,
    JSON.stringify(error),
    String(error.cause),
    String(error),
    inspect(error, { depth: 10 }),
    error.stack ?? '',
    error.personioMessage ?? '',
  ];
}

/** Personio's limits, but not shared with earlier tests' clients: for tests that measure time. */
export const ownLimiter = (): RateLimiter => new RateLimiter({ windows: personioEmployeeWindows });

// Node timers may fire up to a millisecond before Date.now() says the delay is over; allow that much, no more.
export const TIMER_SLACK_MS = 5;

/**
 * Starts a simulator for the calling test file (quiet knobs, fresh rate limits and no cached token before each
 * test), and a client factory for it.
 */
export function useSimulator(): { readonly sim: PersonioSim; client(overrides?: Partial<PersonioClientOptions>): PersonioClient } {
  let sim: PersonioSim | undefined;
  const started = (): PersonioSim => {
    if (!sim) throw new Error('the simulator has not started');
    return sim;
  };

  beforeAll(async () => {
    sim = await startPersonioSim({
      employees: EMPLOYEES,
      seed: 11,
      credentials: [CREDENTIALS, { clientId: 'papi-other-client', clientSecret: 'papi-other-secret' }],
    });
  });

  afterAll(async () => {
    await sim?.close();
  });

  beforeEach(() => {
    clearTokenCache();
    started().setKnobs(defaultKnobs);
    started().resetRateLimits();
    started().resetStats();
  });

  return {
    get sim() {
      return started();
    },
    client: (overrides = {}) => new PersonioClient({ baseUrl: started().url, appId: APP_ID, credentials: CREDENTIALS, ...overrides }),
  };
}
