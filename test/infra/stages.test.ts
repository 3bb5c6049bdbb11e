import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '../../lib/config.js';
import { contextKeys, type DeploymentConfig, parseDeploymentConfig, type StageLock } from '../../infra/config.js';
import { functionNames } from '../../infra/bundling.js';
import { PersonioImportStack } from '../../infra/stack.js';

// Two stages in one account and region, synthesized side by side: nothing one stage names may be the other's, so a
// staging disconnect cannot delete a production secret, staging failures cannot trip production alarms, and the
// second stack deploys beside the first.

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Resource = { Type: string; Properties?: Record<string, Json> };

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const locks = JSON.parse(readFileSync(new URL('../../infra/stages.lock.json', import.meta.url), 'utf8')) as Record<string, StageLock>;
const stages = context[contextKeys.stages] as Record<string, Record<string, unknown>>;

/** Both committed stages, moved into staging's account and region: the worst case for collisions. */
function configOf(stage: string): DeploymentConfig {
  const sameAccount = { ...stages, prod: { ...stages['prod'], account: stages['staging']?.['account'], region: stages['staging']?.['region'] } };
  return parseDeploymentConfig({ ...context, [contextKeys.stage]: stage, [contextKeys.stages]: sameAccount }, locks);
}

/** Properties that name a resource uniquely within an account and region (or account-wide, for IAM and dashboards). */
const uniqueNameProperties = new Set([
  'TableName',
  'FunctionName',
  'RoleName',
  'QueueName',
  'TopicName',
  'DashboardName',
  'AlarmName',
  'AliasName',
  'LogGroupName',
]);
const uniqueNameTypes = new Set(['AWS::Scheduler::ScheduleGroup', 'AWS::Events::Rule']);

/** Every physical name a template sets (a literal, or built from literals with Fn::Join), with where it was found. */
function physicalNames(resources: Record<string, Resource>): Map<string, string> {
  const names = new Map<string, string>();
  const literal = (value: Json | undefined): string | undefined => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, Json[]] } | undefined)?.['Fn::Join'];
    return join ? join[1].map((part) => (typeof part === 'string' ? part : '<token>')).join(join[0]) : undefined;
  };
  for (const [id, resource] of Object.entries(resources))
    for (const [key, value] of Object.entries(resource.Properties ?? {})) {
      if (!uniqueNameProperties.has(key) && !(key === 'Name' && uniqueNameTypes.has(resource.Type))) continue;
      const name = literal(value);
      if (name !== undefined) names.set(name, `${id} (${resource.Type}).${key}`);
    }
  return names;
}

const environments = (resources: Record<string, Resource>) =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => (r.Properties!['Environment'] as { Variables: Record<string, Json> }).Variables);

describe('two stages in one account and region', () => {
  const synthesized: Record<string, { config: DeploymentConfig; stack: PersonioImportStack; resources: Record<string, Resource> }> = {};

  beforeAll(() => {
    // Both stacks in one app, as one `cdk synth` of both would build them; templates taken once both exist.
    const app = new App({ context });
    const stacks = ['staging', 'prod'].map((stage) => {
      const config = configOf(stage);
      return { stage, config, stack: new PersonioImportStack(app, config.stackName, { config, env: config.env }) };
    });
    for (const { stage, config, stack } of stacks)
      synthesized[stage] = { config, stack, resources: Template.fromStack(stack).toJSON()['Resources'] as Record<string, Resource> };
  });

  it('have different stack names and secret prefixes, neither prefix inside the other', () => {
    // Prepare
    const [staging, prod] = [synthesized['staging']!.config, synthesized['prod']!.config];

    // Assess
    expect(staging.env).toEqual(prod.env);
    expect(staging.stackName).not.toBe(prod.stackName);
    expect(staging.secretPrefix.startsWith(prod.secretPrefix)).toBe(false);
    expect(prod.secretPrefix.startsWith(staging.secretPrefix)).toBe(false);
  });

  it('share no physical name: schedule groups, dashboards, alarms, keys, roles, functions', () => {
    // Prepare
    const staging = physicalNames(synthesized['staging']!.resources);
    const prod = physicalNames(synthesized['prod']!.resources);

    // Act
    const shared = [...staging.keys()].filter((name) => prod.has(name)).map((name) => `${name} (staging: ${staging.get(name)}; prod: ${prod.get(name)})`);

    // Assess
    expect(staging.size).toBeGreaterThan(0);
    expect(shared).toEqual([]);
  });

  it("give every function its own stage and its stage's secret prefix", () => {
    for (const stage of ['staging', 'prod']) {
      // Prepare
      const { config, resources } = synthesized[stage]!;

      // Act
      const variables = environments(resources);

      // Assess
      expect(variables).toHaveLength(functionNames.length);
      for (const v of variables) expect(v[envNames.stage]).toBe(stage);
      for (const v of variables.filter((v) => envNames.secretPrefix in v)) expect(v[envNames.secretPrefix]).toBe(config.secretPrefix);
    }
  });
});
