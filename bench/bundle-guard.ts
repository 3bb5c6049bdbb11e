import type { Metafile } from 'esbuild';

/**
 * What a function's bundle must not carry, read from esbuild's metafile (the inputs and the bytes each contributes).
 *
 * - zod's locales other than English. `import { z } from 'zod'` re-exports a namespace esbuild cannot tree-shake, and
 *   every locale (~50 files, 258 KiB) ships; the lint rule in biome.jsonc forbids the import, this catches any other
 *   way back (a dependency, `z.config(z.locales.de())`).
 * - any single module over 100 KiB that no function needs: nothing a function imports today comes near (the largest,
 *   the Lambda client's schema table, is under 50 KiB), so one that size is almost always a whole library dragged in by
 *   one name. A module a function does need that size goes in `modulesFunctionsNeed`, with the reason.
 */
export const MAX_MODULE_KB = 100;
export const modulesFunctionsNeed: Readonly<Record<string, string>> = {};

export interface BundleFindings {
  /** zod locale modules other than English, by path. */
  foreignLocales: string[];
  /** Modules over MAX_MODULE_KB that are not in modulesFunctionsNeed. */
  oversized: { module: string; kb: number }[];
  /** The largest module in the bundle, for the report. */
  largest: { module: string; kb: number } | undefined;
}

const ZOD_LOCALE = /(?:^|\/)node_modules\/zod\/(?:.*\/)?locales\/([\w-]+)\.js$/;

export function inspectBundle(metafile: Metafile): BundleFindings {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (!output) throw new Error('The metafile has no entry point output.');
  const modules = Object.entries(output.inputs).map(([module, input]) => ({ module, kb: Math.round((input.bytesInOutput / 1024) * 10) / 10 }));
  const foreignLocales = modules.filter(({ module, kb }) => kb > 0 && isForeignZodLocale(module)).map(({ module }) => module);
  const oversized = modules.filter(({ module, kb }) => kb > MAX_MODULE_KB && !(module in modulesFunctionsNeed));
  const largest = modules.reduce<BundleFindings['largest']>((a, m) => (a === undefined || m.kb > a.kb ? m : a), undefined);
  return { foreignLocales, oversized, largest };
}

function isForeignZodLocale(module: string): boolean {
  const name = ZOD_LOCALE.exec(module)?.[1];
  // index.js re-exports the locales; it contributes bytes only when they are all in.
  return name !== undefined && name !== 'en' && name !== 'index';
}

export const bundleIsClean = (f: BundleFindings): boolean => f.foreignLocales.length === 0 && f.oversized.length === 0;

/** One line for the report: what was found, or the largest module when nothing was. */
export function describeFindings(f: BundleFindings): string {
  const problems = [
    ...(f.foreignLocales.length ? [`${f.foreignLocales.length} zod locales other than English`] : []),
    ...f.oversized.map((m) => `${m.module} ${m.kb} KiB`),
  ];
  if (problems.length) return problems.join('; ');
  return f.largest ? `clean; largest module ${f.largest.module.replace(/^.*node_modules\//, '')} ${Math.round(f.largest.kb)} KiB` : 'clean';
}
