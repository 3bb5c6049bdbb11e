import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ContextError, contextKeys, parseDeploymentConfig, type StageLock } from '../../infra/config.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { app: string; context: Record<string, unknown> };
const locks = JSON.parse(readFileSync(new URL('../../infra/stages.lock.json', import.meta.url), 'utf8')) as Record<string, StageLock>;
const root = fileURLToPath(new URL('../..', import.meta.url));
const stages = cdkJson.context[contextKeys.stages] as Record<string, Record<string, unknown>>;

/** cdk.json's context with one stage selected and some settings changed, as `-c key=value` would. */
const contextWith = (overrides: Record<string, unknown>) => ({ ...cdkJson.context, ...overrides });

/** Runs the CDK app as the CLI does (context in CDK_CONTEXT_JSON); answers its exit code and stderr. */
function synth(context: Record<string, unknown>): { status: number | null; stderr: string } {
  const env = { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'infra-config-')) };
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], { cwd: root, env, encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

describe('deployment context: stages', () => {
  it('cdk.json commits a staging and a prod stage, each in its own account, with its own stack name and secret prefix', () => {
    // Act
    const staging = parseDeploymentConfig(contextWith({ [contextKeys.stage]: 'staging' }), locks);
    const prod = parseDeploymentConfig(contextWith({ [contextKeys.stage]: 'prod' }), locks);

    // Assess
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
    expect(Object.keys(stages).sort()).toEqual(['prod', 'staging']);
    expect(staging).toMatchObject({ stage: 'staging', stackName: 'DadoPersonioImport-staging', secretPrefix: 'dado/staging/personio/' });
    // The stage that was the only deployment before stages keeps its names: nothing it holds is orphaned.
    expect(prod).toMatchObject({ stage: 'prod', stackName: 'DadoPersonioImport', secretPrefix: 'dado/personio/' });
    expect(staging.env).not.toEqual(prod.env);
    for (const config of [staging, prod]) expect(locks[config.stage]).toEqual({ stackName: config.stackName, secretPrefix: config.secretPrefix });
  });

  it("takes the product-wide defaults where a stage says nothing, and the stage's value where it does", () => {
    // Act
    const config = parseDeploymentConfig(
      contextWith({
        [contextKeys.stage]: 'staging',
        [contextKeys.deactivationThreshold]: '0.35',
        [contextKeys.scheduleFlexibleWindowMinutes]: '0',
        [contextKeys.personioBaseUrl]: 'https://api.personio.example/',
        [contextKeys.stages]: { ...stages, staging: { ...stages['staging'], scheduleDefault: 'cron(0 6 * * ? *)', logRetentionDays: '90' } },
      }),
    );

    // Assess
    expect(config).toMatchObject({
      deactivationThreshold: 0.35,
      scheduleFlexibleWindowMinutes: 0,
      personioBaseUrl: 'https://api.personio.example',
      scheduleDefault: 'cron(0 6 * * ? *)',
      logRetentionDays: 90,
    });
  });

  it.each([
    [contextKeys.deactivationThreshold, 1.5],
    [contextKeys.deactivationThreshold, 'a fifth'],
    [contextKeys.personioAppId, 'dado-app'],
    [contextKeys.personioBaseUrl, 'http://api.personio.de'],
    [contextKeys.scheduleDefault, 'every hour'],
    [contextKeys.logRetentionDays, 10],
    [contextKeys.stage, 'Prod'],
  ])('refuses %s = %j, naming the setting and the value', (key, value) => {
    // Act
    const parse = () => parseDeploymentConfig(contextWith({ [key]: value }));

    // Assess
    expect(parse).toThrow(ContextError);
    expect(parse).toThrow(`${key}: `);
    expect(parse).toThrow(JSON.stringify(value));
  });

  it.each([
    ['account', '12345'],
    ['region', 'Frankfurt'],
    ['stackName', '1-stack'],
    ['stackName', `Dado${'x'.repeat(40)}`],
    ['secretPrefix', 'dado/personio'],
    ['allowedCallers', []],
    ['allowedCallers', ['arn:aws:iam::111111111111:user/alice']],
    ['paging', { topicArn: 'not-an-arn' }],
    ['reservedConcurrency', { fetch: 0, worker: 10 }],
  ])("refuses a stage's %s = %j, naming the stage and the setting", (setting, value) => {
    // Act
    const parse = () => parseDeploymentConfig(contextWith({ [contextKeys.stages]: { ...stages, staging: { ...stages['staging'], [setting]: value } } }));

    // Assess
    expect(parse).toThrow(ContextError);
    expect(parse).toThrow(`${contextKeys.stages}.staging.${setting}`);
  });

  it('refuses a stage that cdk.json does not define, and settings that are now per stage', () => {
    expect(() => parseDeploymentConfig(contextWith({ [contextKeys.stage]: 'qa' }))).toThrow('no stage "qa" under dado:stages (stages: staging, prod)');
    expect(() => parseDeploymentConfig(contextWith({ 'dado:stackName': 'Other' }))).toThrow('dado:stackName: unknown setting');
    expect(() => parseDeploymentConfig(contextWith({ 'dado:secretPrefix': 'other/' }))).toThrow('dado:secretPrefix: unknown setting');
  });

  it("refuses to change a deployed stage's stack name or secret prefix (infra/stages.lock.json)", () => {
    // Prepare
    const moved = { ...stages, prod: { ...stages['prod'], secretPrefix: 'dado/prod/personio/' } };

    // Act
    const parse = () => parseDeploymentConfig(contextWith({ [contextKeys.stage]: 'prod', [contextKeys.stages]: moved }), locks);

    // Assess
    expect(parse).toThrow(ContextError);
    expect(parse).toThrow('Stage "prod" is deployed with secretPrefix "dado/personio/"');
    expect(parse).toThrow('orphans every tenant secret');
  });

  it('fails the synth before building anything, with the message, on a bad value or a changed lock', () => {
    // Act
    const bad = synth(contextWith({ [contextKeys.deactivationThreshold]: 2 }));
    const renamed = synth(
      contextWith({ [contextKeys.stage]: 'staging', [contextKeys.stages]: { ...stages, staging: { ...stages['staging'], stackName: 'Renamed' } } }),
    );

    // Assess
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('Invalid CDK context');
    expect(bad.stderr).toContain(`${contextKeys.deactivationThreshold}: `);
    expect(bad.stderr).not.toContain('Bundling');
    expect(renamed.status).toBe(1);
    expect(renamed.stderr).toContain('Stage "staging" is deployed with stackName "DadoPersonioImport-staging"');
  });
});
