import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundleMeasurement, type BundledFunction, buildFunctionBundles, measureBundle } from '../infra/measure-bundles.js';
import { type BundleFindings, describeFindings, inspectBundle } from './bundle-guard.js';

export type FunctionFigures = BundleMeasurement & { contents: BundleFindings };

/**
 * Each function's bundle, built as the CDK synth builds it (infra/measure-bundles.ts holds the esbuild options and
 * checks them against a synth) into a temporary directory, then measured: size, gzip size, what esbuild's metafile says
 * it holds (bench/bundle-guard.ts), and the time to import() it in `runs` fresh Node processes with and without
 * --enable-source-maps.
 */
export async function measureFunctions(runs: number, log: (line: string) => void): Promise<Record<BundledFunction, FunctionFigures>> {
  const dir = await mkdtemp(join(tmpdir(), 'dado-bench-bundles-'));
  try {
    const bundles = await buildFunctionBundles(dir);
    const figures = {} as Record<BundledFunction, FunctionFigures>;
    for (const [name, bundle] of Object.entries(bundles) as [BundledFunction, (typeof bundles)[BundledFunction]][]) {
      const m = { ...measureBundle(bundle.file, runs), contents: inspectBundle(bundle.metafile) };
      figures[name] = m;
      log(`  ${name}: ${m.bundleKb} KiB, import ${m.initMsWithSourceMaps.median} ms (median, --enable-source-maps); ${describeFindings(m.contents)}`);
    }
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
