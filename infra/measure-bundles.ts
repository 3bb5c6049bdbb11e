/**
 * Size and init cost of each function's bundle.
 *
 * - CLI, from the last synth: `npm run synth && npx tsx infra/measure-bundles.ts [runs]` prints JSON shaped like the
 *   bench's `functions` section (`{ functions: { <name>: { bundleKb, gzipKb, initMs, initMsWithSourceMaps } } }`, init
 *   times as `{ fastest, median }`). It also rebuilds the bundles the way `npm run bench` does and warns on stderr if
 *   one differs from the synthesized asset (the bench's esbuild options have drifted from infra's).
 * - Module, for `npm run bench`: `buildFunctionBundles()` produces the same bundles as the synth (same esbuild options
 *   as `infra/constructs/functions.ts`, without a CDK synth) and `measureBundle()` measures one.
 *
 * Init = time to import() the bundle in a fresh Node process (environment set to dummy values), with and without
 * --enable-source-maps (the deployed functions run with it).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { type EnvName, envNames, loadConfig } from '../lib/config.js';
import { functionBundling, functionNames, type FunctionName } from './bundling.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** The functions `infra/constructs/functions.ts` deploys, each bundled from `functions/<name>.ts`. */
export const bundledFunctions = functionNames;
export type BundledFunction = FunctionName;

/**
 * The esbuild options `NodejsFunction` derives from `infra/bundling.ts` and the rest of the `bundling` props in
 * `infra/constructs/functions.ts` (format ESM, bundleAwsSDK: true so nothing is external), as aws-cdk-lib's Bundling
 * turns them into the esbuild command line (`esbuild --bundle
 * functions/<name>.ts --target=node22 --platform=node --format=esm --outfile=<asset>/index.mjs --minify --sourcemap
 * --sources-content=false --banner:js=… --main-fields=module,main --alias:@aws-sdk/credential-provider-node=…`, run in the project root).
 * Kept identical to infra by the check in this file's CLI (run after a synth), which rebuilds with these options and
 * compares with the synthesized assets byte for byte.
 */
export const functionBundleOptions = {
  bundle: true,
  platform: 'node',
  target: functionBundling.target,
  format: 'esm',
  minify: functionBundling.minify,
  sourcemap: functionBundling.sourceMap,
  sourcesContent: functionBundling.sourcesContent,
  mainFields: [...functionBundling.mainFields],
  banner: { js: functionBundling.banner },
  alias: { ...functionBundling.alias },
  external: [],
} satisfies BuildOptions;

/** One function's bundle: the file, and esbuild's account of which modules it holds (for the bench's bundle guard). */
export interface BuiltBundle {
  file: string;
  metafile: Metafile;
}

/** Bundles each function into `<outdir>/<name>/index.mjs` (plus its source map), as the synth does; returns the files. */
export async function buildFunctionBundles(outdir: string): Promise<Record<BundledFunction, BuiltBundle>> {
  const bundles = {} as Record<BundledFunction, BuiltBundle>;
  for (const name of bundledFunctions) {
    const outfile = join(outdir, name, 'index.mjs');
    // The metafile is esbuild's report beside the output, not a build option: the bundle is the same with or without.
    const { metafile } = await build({
      ...functionBundleOptions,
      absWorkingDir: repoRoot,
      entryPoints: [`functions/${name}.ts`],
      outfile,
      logLevel: 'warning',
      metafile: true,
    });
    bundles[name] = { file: outfile, metafile };
  }
  return bundles;
}

/**
 * A valid value for every variable any function's `loadConfig([...])` reads (typed by lib/config.ts's names, so a new
 * one fails the type check until it is added here): the bundles' module scope parses its configuration, and a missing
 * or malformed value would fail the import instead of measuring it.
 */
const configEnv: Record<EnvName, string> = {
  [envNames.usersTable]: 'users',
  [envNames.connectionsTable]: 'connections',
  [envNames.runsTable]: 'runs',
  [envNames.auditTable]: 'audit',
  [envNames.changesQueueUrl]: 'https://sqs.eu-central-1.amazonaws.com/123456789012/changes',
  [envNames.importQueueUrl]: 'https://sqs.eu-central-1.amazonaws.com/123456789012/import',
  [envNames.eventBusName]: 'DadoPersonioImport-events',
  [envNames.secretPrefix]: 'dado/personio/',
  [envNames.personioBaseUrl]: 'https://api.personio.de',
  [envNames.personioAppId]: 'DADO',
  [envNames.deactivationThreshold]: '0.2',
  [envNames.scheduleGroupName]: 'DadoPersonioImport',
  [envNames.schedulerRoleArn]: 'arn:aws:iam::123456789012:role/DadoPersonioImport-SchedulerRole',
  [envNames.fetchFunctionArn]: 'arn:aws:lambda:eu-central-1:123456789012:function:DadoPersonioImport-Fetch',
  [envNames.fetchFunctionName]: 'DadoPersonioImport-Fetch',
  [envNames.scheduleExpression]: 'rate(1 hour)',
  [envNames.webhookBaseUrl]: 'https://webhooks.example.com/webhooks/personio/',
  [envNames.reconcileScheduleExpression]: 'rate(1 day)',
  [envNames.scheduleFlexibleWindowMinutes]: '15',
  [envNames.stage]: 'staging',
  [envNames.allowedCallers]: 'arn:aws:iam::123456789012:role/dado-backend',
  [envNames.secretsKmsKeyId]: 'arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000',
  [envNames.runRetentionDays]: '400',
  [envNames.pauseAfterCredentialFailures]: '3',
};
// Fails here, naming the variable, if a value above no longer passes the functions' own validation.
loadConfig(Object.keys(envNames) as (keyof typeof envNames)[], configEnv);
const dummyEnv = {
  ...configEnv,
  AWS_REGION: 'eu-central-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export interface InitTime {
  fastest: number;
  median: number;
}

export interface BundleMeasurement {
  bundleKb: number;
  gzipKb: number;
  initMs: InitTime;
  initMsWithSourceMaps: InitTime;
}

function importMs(file: string, flags: string[], runs: number): InitTime {
  const script = `const t0 = performance.now(); const m = await import(${JSON.stringify(pathToFileURL(file).href)}); const ms = performance.now() - t0;
if (typeof m.handler !== 'function') throw new Error('no handler export'); console.log(ms);`;
  const times = Array.from({ length: runs }, () =>
    Number(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { env: { ...process.env, ...dummyEnv }, encoding: 'utf8' }).trim()),
  ).sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { fastest: round(times[0] ?? NaN), median: round(times[Math.floor(times.length / 2)] ?? NaN) };
}

/** Size (raw and gzip -9, KiB) and init time (fastest and median of `runs` fresh processes) of one bundle. */
export function measureBundle(file: string, runs = 15): BundleMeasurement {
  const bytes = readFileSync(file);
  return {
    bundleKb: Math.round(bytes.length / 1024),
    gzipKb: Math.round(gzipSync(bytes, { level: 9 }).length / 1024),
    initMs: importMs(file, [], runs),
    initMsWithSourceMaps: importMs(file, ['--enable-source-maps'], runs),
  };
}

type Resource = { Type: string; Properties: { Code?: { S3Key?: string } }; Metadata?: Record<string, string> };

/** The functions' bundles in a synth's output directory, by lower-cased construct id (connect, fetch, worker). */
export function synthesizedBundles(outdir: string): Record<string, string> {
  const templateFile = readdirSync(outdir).find((f) => f.endsWith('.template.json'));
  if (!templateFile) throw new Error(`No template in ${outdir}; run npm run synth first.`);
  const template = JSON.parse(readFileSync(join(outdir, templateFile), 'utf8')) as { Resources: Record<string, Resource> };
  const files: Record<string, string> = {};
  for (const resource of Object.values(template.Resources)) {
    const key = resource.Properties.Code?.S3Key;
    if (resource.Type !== 'AWS::Lambda::Function' || !key) continue;
    const name = (resource.Metadata?.['aws:cdk:path'] ?? key).split('/').at(-2)?.toLowerCase() ?? key;
    files[name] = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
  }
  return files;
}

async function cli(): Promise<void> {
  const outdir = resolve(process.env['CDK_OUTDIR'] ?? 'cdk.out');
  const runs = Number(process.argv[2] ?? 15);
  const synthesized = synthesizedBundles(outdir);
  const functions: Record<string, BundleMeasurement> = {};
  for (const [name, file] of Object.entries(synthesized)) functions[name] = measureBundle(file, runs);
  console.log(JSON.stringify({ functions }, null, 2));
  await checkBenchBundles(synthesized);
}

/** Warns (stderr) when the bench's own build of a function differs from the synthesized one. */
async function checkBenchBundles(synthesized: Record<string, string>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dado-bundles-'));
  try {
    const built = await buildFunctionBundles(dir);
    const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    for (const name of bundledFunctions) {
      const synth = synthesized[name];
      if (!synth) console.error(`warning: no ${name} function in the synth output; bench bundles may not match infra`);
      else if (sha(synth) !== sha(built[name].file))
        console.error(
          `warning: the bench's build of ${name} differs from the synthesized asset (${synth}): align functionBundleOptions in infra/measure-bundles.ts with infra/constructs/functions.ts, or re-synth if the sources changed since`,
        );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) await cli();
