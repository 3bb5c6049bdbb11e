import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundleMeasurement, type BundledFunction, buildFunctionBundles, measureBundle } from '../infra/measure-bundles.js';

/**
 * Each function's bundle, built as the CDK synth builds it (infra/measure-bundles.ts holds the esbuild options and
 * checks them against a synth) into a temporary directory, then measured: size, gzip size, and the time to import() it
 * in `runs` fresh Node processes with and without --enable-source-maps.
 */
export async function measureFunctions(runs: number, log: (line: string) => void): Promise<Record<BundledFunction, BundleMeasurement>> {
  const dir = await mkdtemp(join(tmpdir(), 'dado-bench-bundles-'));
  try {
    const files = await buildFunctionBundles(dir);
    const figures = {} as Record<BundledFunction, BundleMeasurement>;
    for (const [name, file] of Object.entries(files) as [BundledFunction, string][]) {
      figures[name] = measureBundle(file, runs);
      const m = figures[name];
      log(`  ${name}: ${m.bundleKb} KiB, import ${m.initMsWithSourceMaps.median} ms (median, --enable-source-maps)`);
    }
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
