import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleIsClean, inspectBundle, MAX_MODULE_KB } from '../../bench/bundle-guard.js';
import { functionBundleOptions } from '../../infra/measure-bundles.js';

const repoRoot = new URL('../../', import.meta.url).pathname;

function metafileWith(inputs: Record<string, number>): Metafile {
  return {
    inputs: {},
    outputs: {
      'out/index.mjs': {
        bytes: 0,
        entryPoint: 'functions/worker.ts',
        imports: [],
        exports: [],
        inputs: Object.fromEntries(Object.entries(inputs).map(([path, kb]) => [path, { bytesInOutput: kb * 1024 }])),
      },
    },
  };
}

describe("the bench's bundle guard", () => {
  it('flags zod locales other than English, and modules over the limit that no function needs', () => {
    const findings = inspectBundle(
      metafileWith({
        'node_modules/zod/v4/locales/en.js': 3,
        'node_modules/zod/v4/locales/de.js': 5,
        'node_modules/zod/v4/locales/zh-TW.js': 5,
        'node_modules/huge-lib/index.js': MAX_MODULE_KB + 1,
        'lib/runs/store.ts': 8,
      }),
    );
    expect(findings.foreignLocales).toEqual(['node_modules/zod/v4/locales/de.js', 'node_modules/zod/v4/locales/zh-TW.js']);
    expect(findings.oversized).toEqual([{ module: 'node_modules/huge-lib/index.js', kb: MAX_MODULE_KB + 1 }]);
    expect(bundleIsClean(findings)).toBe(false);
  });

  it('passes a bundle with only the English locale and modules under the limit', () => {
    const findings = inspectBundle(metafileWith({ 'node_modules/zod/v4/locales/en.js': 3, 'lib/runs/store.ts': 8 }));
    expect(bundleIsClean(findings)).toBe(true);
    expect(findings.largest).toEqual({ module: 'lib/runs/store.ts', kb: 8 });
  });

  describe('on real esbuild output, with the functions’ bundling options', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dado-guard-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function bundle(source: string): Promise<Metafile> {
      // From stdin, resolved in the project root, so `zod` is the project's own copy.
      const { metafile } = await build({
        ...functionBundleOptions,
        absWorkingDir: repoRoot,
        stdin: { contents: source, loader: 'ts', resolveDir: repoRoot, sourcefile: 'functions/entry.ts' },
        outfile: join(dir, `entry-${Math.random().toString(36).slice(2)}.mjs`),
        metafile: true,
        logLevel: 'silent',
      });
      return metafile;
    }

    it("fails a bundle that imports zod's re-exported z (every locale ships), passes the namespace import", async () => {
      const named = inspectBundle(await bundle("import { z } from 'zod';\nexport const schema = z.object({ id: z.string() });\n"));
      const namespace = inspectBundle(await bundle("import * as z from 'zod';\nexport const schema = z.object({ id: z.string() });\n"));
      expect(named.foreignLocales.length).toBeGreaterThan(40);
      expect(bundleIsClean(named)).toBe(false);
      expect(namespace.foreignLocales).toEqual([]);
      expect(bundleIsClean(namespace)).toBe(true);
    });
  });
});
