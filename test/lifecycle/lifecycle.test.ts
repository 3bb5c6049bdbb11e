import { describe, expect, it } from 'vitest';
import { formatViolation, simulate } from './simulation.js';
import { useWorld } from './use-world.js';

/**
 * The lifecycle simulation on a fixed set of seeds (issue 11): random sequences of imports, Personio changes,
 * deliveries, faults, approvals and time against the real handlers on the local stack, with the invariants checked
 * after every step. More sequences: `npm run simulate -- --sequences 500`.
 */

const SEED = 20_261_201;
const SEQUENCES = 16;

const world = useWorld();

describe('run lifecycle simulation', () => {
  it(`keeps every invariant over ${SEQUENCES} sequences (seeds ${SEED}…${SEED + SEQUENCES - 1})`, async () => {
    const result = await simulate(world(), { sequences: SEQUENCES, seed: SEED, maxCommands: 20, shrinks: 30, shrinkTimeMs: 20_000 });
    const lines = result.violations.map((v) => formatViolation(v).replace(' | shortest sequence: ', '\n    shortest sequence: '));
    expect(lines, `${result.sequences} sequences, ${result.violations.length} invariant violations:\n${lines.join('\n')}`).toEqual([]);
  }, 600_000);
});
