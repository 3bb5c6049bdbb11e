import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedFinding } from '../../lib/runs/run.js';
import { truncate } from '../../lib/util/text.js';

/** Cutting text that ends up in run records and error messages. */

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('truncate', () => {
  it('keeps short text, and cuts long text to a prefix of at most max units ending in an ellipsis, never half a pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.integer({ min: 2, max: 60 }), (text, max) => {
        // Act
        const cut = truncate(text, max);

        // Assess
        if (text.length <= max) {
          expect(cut).toBe(text);
          return;
        }
        expect(cut.length).toBeLessThanOrEqual(max);
        expect(cut.endsWith('…')).toBe(true);
        expect(text.startsWith(cut.slice(0, -1))).toBe(true);
        expect(loneSurrogate.test(cut)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('does not split an emoji at the cut', () => {
    // Prepare: the cut falls between the two halves of 😀
    const text = `${'a'.repeat(8)}😀${'b'.repeat(10)}`;

    // Act / Assess
    expect(truncate(text, 10)).toBe(`${'a'.repeat(8)}…`);
  });
});

describe('boundedFinding', () => {
  it('leaves a readable reason as it is and caps a runaway one at 2,000 characters', () => {
    // Prepare
    const short = { code: 'personio_bad_response', message: 'Personio sent an unexpected response.' };
    const long = { code: 'fetch_failed', message: 'x'.repeat(500_000) };

    // Act / Assess
    expect(boundedFinding(short)).toEqual(short);
    expect(boundedFinding(long).message).toHaveLength(2_000);
    expect(boundedFinding(long).code).toBe('fetch_failed');
  });
});
