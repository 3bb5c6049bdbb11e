/**
 * Size and init cost of each function's bundle, from the last synth: `npm run synth && npx tsx
 * infra/measure-bundles.ts [runs]`. Init = time to import() the bundle in a fresh Node process (environment set to
 * dummy values), with and without --enable-source-maps (the deployed functions run with it). Prints JSON shaped like
 * the bench's `functions` section.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const outdir = resolve(process.env.CDK_OUTDIR ?? 'cdk.out');
const runs = Number(process.argv[2] ?? 15);
const dummyEnv = {
  AWS_REGION: 'eu-central-1',
  USERS_TABLE: 'users',
  CONNECTIONS_TABLE: 'connections',
  RUNS_TABLE: 'runs',
  IMPORT_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/import',
  SECRET_PREFIX: 'dado/personio/',
  PERSONIO_BASE_URL: 'https://api.personio.de',
  PERSONIO_APP_ID: 'DADO',
  DEACTIVATION_THRESHOLD: '0.2',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

type Resource = { Type: string; Properties: { Code?: { S3Key?: string } }; Metadata?: Record<string, string> };

function importMs(file: string, flags: string[]): { fastest: number; median: number } {
  const script = `const t0 = performance.now(); const m = await import(${JSON.stringify(file)}); const ms = performance.now() - t0;
if (typeof m.handler !== 'function') throw new Error('no handler export'); console.log(ms);`;
  const times = Array.from({ length: runs }, () =>
    Number(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { env: { ...process.env, ...dummyEnv }, encoding: 'utf8' }).trim()),
  ).sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { fastest: round(times[0] ?? NaN), median: round(times[Math.floor(times.length / 2)] ?? NaN) };
}

const templateFile = readdirSync(outdir).find((f) => f.endsWith('.template.json'));
if (!templateFile) throw new Error(`No template in ${outdir}; run npm run synth first.`);
const template = JSON.parse(readFileSync(join(outdir, templateFile), 'utf8')) as { Resources: Record<string, Resource> };

const functions: Record<string, unknown> = {};
for (const resource of Object.values(template.Resources)) {
  const key = resource.Properties.Code?.S3Key;
  if (resource.Type !== 'AWS::Lambda::Function' || !key) continue;
  const name = (resource.Metadata?.['aws:cdk:path'] ?? key).split('/').at(-2)?.toLowerCase() ?? key;
  const file = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
  const bytes = readFileSync(file);
  functions[name] = {
    bundleKb: Math.round(statSync(file).size / 1024),
    gzipKb: Math.round(gzipSync(bytes, { level: 9 }).length / 1024),
    initMs: importMs(file, []),
    initMsWithSourceMaps: importMs(file, ['--enable-source-maps']),
  };
}
console.log(JSON.stringify({ functions }, null, 2));
