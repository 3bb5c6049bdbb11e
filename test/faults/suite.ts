import { afterAll, beforeAll, describe, it } from 'vitest';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { FaultHarness, type FaultCase } from './harness.js';
import { printTable } from './report.js';

/** What a case promises, as its test title says it. */
function promiseOf(c: FaultCase): string {
  if (c.knownBug) return `KNOWN BUG — ${c.knownBug}`;
  if (c.expect.outcome === 'completed') return 'completes with exactly Personio’s employees';
  if (c.expect.outcome === 'either') return 'completes, or fails clearly with the table as it was';
  if ('partial' in c.expect) return 'fails clearly; what it wrote is Personio’s current data, nobody lost or deactivated; the next import completes';
  return 'fails clearly, table as it was';
}

/**
 * One fault suite: a local environment with a 300-employee simulator shared by the cases, a test per case, and the
 * table printed at the end. `more` declares further tests in the same describe block, on the same environment.
 */
export function faultSuite(
  title: string,
  prefix: string,
  cases: readonly FaultCase[],
  more?: (shared: () => { env: LocalEnvironment; harness: FaultHarness }) => void,
): void {
  describe(title, () => {
    let env: LocalEnvironment;
    let harness: FaultHarness;

    beforeAll(async () => {
      env = await startLocalEnvironment({ simulator: { employees: 300, seed: 7 } });
      harness = new FaultHarness(env, prefix);
    }, 60_000);

    afterAll(async () => {
      if (harness) printTable(title, harness.results);
      await harness?.stop();
      await env?.stop();
    });

    for (const c of cases) {
      const test = c.knownBug ? it.fails : it;
      test(`${c.fault}: ${promiseOf(c)}`, async () => {
        try {
          await harness.run(c);
        } catch (error) {
          harness.recordError(c, error);
          throw error;
        }
      }, 180_000);
    }

    more?.(() => ({ env, harness }));
  });
}
