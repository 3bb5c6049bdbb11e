import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleIsClean, describeFindings, inspectBundle } from '../../bench/bundle-guard.js';
import { functionNames } from '../../infra/bundling.js';
import { type BuiltBundle, buildFunctionBundles, synthesizedBundles } from '../../infra/measure-bundles.js';

// What deploys: the synthesized assets are the bench's bundles byte for byte (so the bench, the bundle guard and the
// bundled-import test measure and run what Lambda gets, the credential alias included), and every function's bundle
// passes the guard (no zod locale but English, no module over 100 KiB that no function needs).

const root = fileURLToPath(new URL('../..', import.meta.url));
const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the function bundles', () => {
  let dir: string;
  let built: Record<(typeof functionNames)[number], BuiltBundle>;
  let synthesized: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dado-bundles-'));
    built = await buildFunctionBundles(join(dir, 'bench'));
    // As the CDK CLI runs the app: the context in CDK_CONTEXT_JSON, the output directory in CDK_OUTDIR.
    const outdir = join(dir, 'cdk.out');
    const synth = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: root,
      // Path metadata names each function's asset (the CLI turns it on by default).
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, 'aws:cdk:enable-path-metadata': true }), CDK_OUTDIR: outdir },
      encoding: 'utf8',
    });
    if (synth.status !== 0) throw new Error(`synth failed (${synth.status}): ${synth.stderr}`);
    synthesized = synthesizedBundles(outdir);
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(functionNames)('%s: the synthesized asset is the bench’s build, byte for byte', (name) => {
    const asset = synthesized[name];
    expect(asset, `no ${name} function in the synth`).toBeDefined();
    expect(sha(asset!)).toBe(sha(built[name].file));
  });

  it.each(functionNames)('%s: carries no zod locale but English and no oversized module, and only the environment credential provider', (name) => {
    const findings = inspectBundle(built[name].metafile);
    expect(bundleIsClean(findings), describeFindings(findings)).toBe(true);
    const inputs = Object.keys(Object.values(built[name].metafile.outputs).find((o) => o.entryPoint)?.inputs ?? {});
    expect(inputs.some((m) => m.includes('node_modules/@aws-sdk/credential-provider-node/'))).toBe(false);
    expect(inputs).toContain('functions/shared/lambda-credentials.ts');
  });
});
