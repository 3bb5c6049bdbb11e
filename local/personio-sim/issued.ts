import type { SimCredential } from './types.js';

/**
 * Process-wide record of the secrets the simulators of this process know: every credential they were started
 * with and every token they minted. Tests run the simulator in-process, so a search of the test run's output for
 * leaked secrets (test/helpers/leak-sweep.ts) can ask here what to look for. Nothing is ever removed: a token
 * that expired or was revoked must not leak either.
 */
const credentials = new Map<string, SimCredential>();
const tokens = new Set<string>();

export function recordSimCredentials(list: readonly SimCredential[]): void {
  for (const c of list) credentials.set(`${c.clientId}\0${c.clientSecret}`, { clientId: c.clientId, clientSecret: c.clientSecret });
}

export function recordSimToken(token: string): void {
  tokens.add(token);
}

/** Every credential and token the simulators of this process have known so far. */
export function simSecrets(): { credentials: SimCredential[]; tokens: string[] } {
  return { credentials: [...credentials.values()], tokens: [...tokens] };
}
