import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ContextError, contextKeys, parseDeploymentConfig } from '../../infra/config.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { app: string; context: Record<string, unknown> };

describe('deployment context', () => {
  it('cdk.json states every setting, with the same values as the built-in defaults', () => {
    // Act
    const fromCdkJson = parseDeploymentConfig(cdkJson.context);

    // Assess
    expect(fromCdkJson).toEqual(parseDeploymentConfig({}));
    for (const key of Object.values(contextKeys)) expect(cdkJson.context, key).toHaveProperty([key]);
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
  });

  it('accepts values given on the command line (-c key=value arrives as a string)', () => {
    // Act
    const config = parseDeploymentConfig({
      'dado:deactivationThreshold': '0.35',
      'dado:logRetentionDays': '90',
      'dado:scheduleFlexibleWindowMinutes': '0',
      'dado:personioBaseUrl': 'https://api.personio.example/',
      'dado:scheduleDefault': 'cron(0 6 * * ? *)',
    });

    // Assess
    expect(config).toMatchObject({
      deactivationThreshold: 0.35,
      logRetentionDays: 90,
      scheduleFlexibleWindowMinutes: 0,
      personioBaseUrl: 'https://api.personio.example',
      scheduleDefault: 'cron(0 6 * * ? *)',
    });
  });

  it.each([
    ['dado:deactivationThreshold', 1.5],
    ['dado:deactivationThreshold', 'a fifth'],
    ['dado:personioAppId', 'dado-app'],
    ['dado:personioBaseUrl', 'http://api.personio.de'],
    ['dado:scheduleDefault', 'every hour'],
    ['dado:secretPrefix', 'dado/personio'],
    ['dado:logRetentionDays', 10],
    ['dado:stackName', '1-stack'],
  ])('refuses %s = %j, naming the setting and the value', (key, value) => {
    // Act
    const parse = () => parseDeploymentConfig({ [key]: value });

    // Assess
    expect(parse).toThrow(ContextError);
    expect(parse).toThrow(`${key}: `);
    expect(parse).toThrow(JSON.stringify(value));
  });

  it('refuses an unknown dado:* setting, so a typo cannot fall back to a default silently', () => {
    // Assess
    expect(() => parseDeploymentConfig({ 'dado:deactivationTreshold': 0.5 })).toThrow(/dado:deactivationTreshold: unknown setting/);
  });

  it('fails the synth before building anything, with the message, on a bad value', () => {
    // Prepare: what the CDK CLI does: run the app with the context in CDK_CONTEXT_JSON
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const env = {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ 'dado:deactivationThreshold': 2 }),
      CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'infra-config-')),
    };

    // Act
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], { cwd: root, env, encoding: 'utf8' });

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Invalid CDK context');
    expect(run.stderr).toContain('dado:deactivationThreshold: ');
    expect(run.stderr).not.toContain('Bundling');
  });
});
