import { type App, Tags } from 'aws-cdk-lib';
import type { DeploymentConfig } from './config.js';
import { addNagPacks } from './nag.js';
import { PersonioImportStack } from './stack.js';

/**
 * The deployable app: the stage's stack, in the stage's account and region (`env`: a deploy with another profile fails
 * before it changes anything), tagged with the stage, checked by cdk-nag on every synth. `infra/app.ts` and the tests
 * share it.
 */
export function addProduct(app: App, config: DeploymentConfig): PersonioImportStack {
  const stack = new PersonioImportStack(app, config.stackName, {
    config,
    env: config.env,
    description: `Dado × Personio employee import (${config.stage}): connect API, scheduled fetch, SQS worker, DynamoDB, alarms`,
  });
  Tags.of(stack).add('dado:stage', config.stage);
  Tags.of(stack).add('dado:product', 'personio-import');
  addNagPacks(app);
  return stack;
}
