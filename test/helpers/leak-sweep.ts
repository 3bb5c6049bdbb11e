/**
 * A vitest setup file (vitest.config.ts `setupFiles`): in every test file, records everything written to
 * process.stdout, process.stderr and the console (Powertools writes its JSON log lines to process.stdout through a
 * Console of its own), still passing it on, and fails the test during which a known secret was written: the
 * simulator's default client secret, any secret registered with registerSecret(), every client secret an in-process
 * simulator was started with and every token it minted. Output written in a file's hooks is checked after the next
 * test and once more after the file's own afterAll hooks.
 *
 * Known blind spot: a test that swaps process.stdout.write for a wrapper that does not call through (as
 * connect-support's captureOutput({ passThrough: false }) does) hides that output from this sweep; such tests
 * search their capture themselves.
 */
import { formatWithOptions } from 'node:util';
import { afterAll, afterEach } from 'vitest';
import { simSecrets } from '../../local/personio-sim/issued.js';

export interface KnownSecret {
  /** What the secret is, for the failure message (never the secret itself). */
  label: string;
  value: string;
  /** For a client secret: its client id, to find the Basic authorization form `base64(id:secret)`. */
  clientId?: string;
}

export interface Leak {
  label: string;
  /** Which spelling of the secret was found: raw, json-escaped, url-encoded, base64, basic-auth (the base64 ones with their alignment). */
  form: string;
}

/** Shorter secrets ('x', 'abc' in unit tests) would match ordinary text by chance. */
export const MIN_SECRET_LENGTH = 8;

const SIM_DEFAULT = { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' };
const registered: KnownSecret[] = [];

/** Adds a secret (a canary) that no output may contain, for the rest of this test file. */
export function registerSecret(value: string, label = 'registered secret', clientId?: string): void {
  registered.push({ label, value, ...(clientId !== undefined ? { clientId } : {}) });
}

/** Everything the sweep looks for right now (the simulators' tokens grow as they mint). */
export function knownSecrets(): KnownSecret[] {
  const sim = simSecrets();
  return [
    { label: 'the simulator default client secret', value: SIM_DEFAULT.clientSecret, clientId: SIM_DEFAULT.clientId },
    ...registered,
    ...sim.credentials.map((c) => ({ label: `client secret of simulator client ${c.clientId}`, value: c.clientSecret, clientId: c.clientId })),
    ...sim.tokens.map((t, i) => ({ label: `simulator token #${i + 1}`, value: t })),
  ].filter((s) => s.value.length >= MIN_SECRET_LENGTH);
}

/**
 * The base64 spellings of `value` wherever it starts inside a larger base64 blob: for each of the three byte
 * alignments k (the value starting at a byte offset ≡ k mod 3), base64 of k filler bytes + the value, cut down to
 * the characters fully determined by the value's own bits (characters [⌈8k/6⌉, ⌊8(k+len)/6⌋)), so neither the
 * bytes before it nor those after it (or the padding) change them.
 */
function base64Forms(value: string, form: string): { form: string; text: string }[] {
  const bytes = Buffer.from(value);
  return [0, 1, 2].map((k) => ({
    form: k === 0 ? form : `${form} (offset ${k} mod 3)`,
    text: Buffer.concat([Buffer.alloc(k), bytes])
      .toString('base64')
      .slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6)),
  }));
}

/** The spellings under which a secret can end up in text. */
export function leakForms(secret: KnownSecret): { form: string; text: string }[] {
  const forms = [
    { form: 'raw', text: secret.value },
    { form: 'json-escaped', text: JSON.stringify(secret.value).slice(1, -1) },
    { form: 'url-encoded', text: encodeURIComponent(secret.value) },
    ...base64Forms(secret.value, 'base64'),
  ];
  if (secret.clientId !== undefined) forms.push(...base64Forms(`${secret.clientId}:${secret.value}`, 'basic-auth'));
  const seen = new Set<string>();
  return forms.filter((f) => !seen.has(f.text) && seen.add(f.text));
}

/** The secrets (label and form, never the value) that occur in the text. */
export function findLeaks(text: string, secrets: readonly KnownSecret[] = knownSecrets()): Leak[] {
  const leaks: Leak[] = [];
  for (const secret of secrets) {
    for (const { form, text: needle } of leakForms(secret)) {
      if (text.includes(needle)) leaks.push({ label: secret.label, form });
    }
  }
  return leaks;
}

export const describeLeaks = (leaks: readonly Leak[]): string => leaks.map((l) => `${l.label} (${l.form})`).join(', ');

// ---- the capture ----------------------------------------------------------------------------------------------

let captured: string[] = [];

/** What was written since the last check or take, and forgets it (a test that plants a leak on purpose takes it back). */
export function takeCaptured(): string {
  const text = captured.join('');
  captured = [];
  return text;
}

let silenced = false;

/** Runs `plant` with output recorded but not passed on (for tests that plant a leak on purpose). */
export function muted<T>(plant: () => T): T {
  silenced = true;
  try {
    return plant();
  } finally {
    silenced = false;
  }
}

/** Records a chunk; answers whether to pass it on. */
function record(chunk: unknown): boolean {
  if (typeof chunk === 'string') captured.push(chunk);
  else if (chunk instanceof Uint8Array) captured.push(Buffer.from(chunk).toString('utf8'));
  return !silenced;
}

const INSTALLED = Symbol.for('dado.leak-sweep.installed');
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table'] as const;
/** How deep console arguments are formatted for the search: deeper than any log object in this project, and bounded. */
const CONSOLE_DEPTH = 6;

function install(): void {
  // Streams are per process; setup files run once per test file (the recording goes to this file's module).
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    if ((original as { [INSTALLED]?: boolean })[INSTALLED]) {
      // Installed by an earlier file in the same process: point it at this file's recorder.
      (original as unknown as { recorder: typeof record }).recorder = record;
      continue;
    }
    const wrapper = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
      if (wrapper.recorder(chunk)) return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
      return true;
    };
    wrapper.recorder = record;
    (wrapper as { [INSTALLED]?: boolean })[INSTALLED] = true;
    stream.write = wrapper as typeof stream.write;
  }
  // vitest replaces the console in its workers with one that reports to the main process, not through
  // process.stdout: record what reaches its methods as well.
  for (const method of CONSOLE_METHODS) {
    const original = console[method] as ((...args: unknown[]) => void) & { [INSTALLED]?: boolean };
    if (original[INSTALLED]) {
      (original as unknown as { recorder: typeof record }).recorder = record;
      continue;
    }
    const wrapper = Object.assign(
      function (this: unknown, ...args: unknown[]): void {
        if (wrapper.recorder(formatWithOptions({ depth: CONSOLE_DEPTH }, ...args))) original.apply(console, args);
      },
      { recorder: record, [INSTALLED]: true },
    );
    (console as unknown as Record<string, unknown>)[method] = wrapper;
  }
}

/** Fails (without naming the secret's value) when output since the last check contains a known secret. */
export function checkCaptured(when: string): void {
  const leaks = findLeaks(takeCaptured());
  if (leaks.length > 0) throw new Error(`Secret leak in the output written ${when}: ${describeLeaks(leaks)}`);
}

install();
afterEach(() => checkCaptured('during this test (or the hooks before it)'));
// Registered first, so with vitest's stacked hooks it runs after the file's own afterAll hooks.
afterAll(() => checkCaptured("in this file's afterAll hooks"));
