import { afterAll, beforeAll } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import { DEFAULT_SIM_CREDENTIAL, startPersonioSim, type PersonioSim, type SimOptions } from '../../local/personio-sim/index.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { startPersonioProxy } from './personio-proxy.js';

export interface PersonioFront {
  url: string;
  /** The simulator answers come from; a test points it at a simulator of its own. */
  upstream: string | undefined;
  /** May rewrite an answer's body (undefined: as the simulator sent it). */
  rewrite: ((path: string, body: string) => string | undefined) | undefined;
  close(): Promise<void>;
}

/**
 * The Personio a local environment is pointed at (the deployment's base URL is fixed when the handlers load): it
 * forwards to whichever simulator a test chooses, so every test has a Personio of its own, and can change what
 * Personio answers in ways the simulator does not offer (attribute types, counts).
 */
export async function startPersonioFront(): Promise<PersonioFront> {
  const state: { upstream: string | undefined; rewrite: PersonioFront['rewrite'] } = { upstream: undefined, rewrite: undefined };
  const proxy = await startPersonioProxy(() => state.upstream, {
    response: (_method, url, status, body) => (status >= 200 && status < 300 ? state.rewrite?.(url.pathname, body) : undefined),
  });
  return {
    url: proxy.url,
    get upstream() {
      return state.upstream;
    },
    set upstream(url) {
      state.upstream = url;
    },
    get rewrite() {
      return state.rewrite;
    },
    set rewrite(fn) {
      state.rewrite = fn;
    },
    close: () => proxy.close(),
  };
}

export interface FrontedEnvironment {
  /** A local environment whose Personio is `front` (with the simulator's default credential). */
  env: LocalEnvironment;
  front: PersonioFront;
  /** Stops the environment, then the front. */
  stop(): Promise<void>;
}

/** Starts a front and a local environment pointed at it. */
export async function startFrontedEnvironment(): Promise<FrontedEnvironment> {
  const front = await startPersonioFront();
  let env: LocalEnvironment;
  try {
    env = await startLocalEnvironment({ personio: { url: front.url, ...DEFAULT_SIM_CREDENTIAL } });
  } catch (error) {
    await front.close();
    throw error;
  }
  return {
    env,
    front,
    async stop() {
      await env.stop();
      await front.close();
    },
  };
}

/**
 * Registers, in the calling `describe`, a fronted environment for the file: started before its tests, stopped after
 * them. Its members may be read only once the file's tests run.
 */
export function useFrontedEnvironment(): Omit<FrontedEnvironment, 'stop'> {
  let fronted: FrontedEnvironment | undefined;
  const started = (): FrontedEnvironment => {
    if (!fronted) throw new Error('the fronted environment is not started (its members are read inside hooks and tests)');
    return fronted;
  };

  beforeAll(async () => {
    fronted = await startFrontedEnvironment();
  }, 60_000);

  afterAll(async () => {
    await fronted?.stop();
  });

  return {
    get env() {
      return started().env;
    },
    get front() {
      return started().front;
    },
  };
}

/**
 * A test's own simulator behind the front, answering as it sends (no rewrite), with no token of an earlier
 * simulator cached by the handlers. The caller closes it.
 */
export async function freshSimulatorBehind(front: PersonioFront, options: SimOptions): Promise<PersonioSim> {
  clearTokenCache();
  front.rewrite = undefined;
  const sim = await startPersonioSim(options);
  front.upstream = sim.url;
  return sim;
}
