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
import { type EnvName, envNames, loadConfig } from '../lib/config.js';

const outdir = resolve(process.env.CDK_OUTDIR ?? 'cdk.out');
const runs = Number(process.argv[2] ?? 15);
/**
 * A valid value for every variable any function's `loadConfig([...])` reads (typed by lib/config.ts's names, so a new
 * one fails the type check until it is added here): the bundles' module scope parses its configuration, and a missing
 * or malformed value would fail the import instead of measuring it.
 */
const configEnv: Record<EnvName, string> = {
  [envNames.usersTable]: 'users',
  [envNames.connectionsTable]: 'connections',
  [envNames.runsTable]: 'runs',
  [envNames.importQueueUrl]: 'https://sqs.eu-central-1.amazonaws.com/123456789012/import',
  [envNames.secretPrefix]: 'dado/personio/',
  [envNames.personioBaseUrl]: 'https://api.personio.de',
  [envNames.personioAppId]: 'DADO',
  [envNames.deactivationThreshold]: '0.2',
  [envNames.scheduleGroupName]: 'DadoPersonioImport',
  [envNames.schedulerRoleArn]: 'arn:aws:iam::123456789012:role/DadoPersonioImport-SchedulerRole',
  [envNames.fetchFunctionArn]: 'arn:aws:lambda:eu-central-1:123456789012:function:DadoPersonioImport-Fetch',
  [envNames.fetchFunctionName]: 'DadoPersonioImport-Fetch',
  [envNames.scheduleExpression]: 'rate(1 hour)',
  [envNames.scheduleFlexibleWindowMinutes]: '15',
};
// Fails here, naming the variable, if a value above no longer passes the functions' own validation.
loadConfig(Object.keys(envNames) as (keyof typeof envNames)[], configEnv);
const dummyEnv = {
  ...configEnv,
  AWS_REGION: 'eu-central-1',
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
