import type { App } from 'aws-cdk-lib';
import type { DeploymentConfig } from './config.js';
import { addNagPacks } from './nag.js';
import { PersonioImportStack } from './stack.js';

/** The deployable app: the product's stack, checked by cdk-nag on every synth. `infra/app.ts` and the tests share it. */
export function addProduct(app: App, config: DeploymentConfig): PersonioImportStack {
  const stack = new PersonioImportStack(app, config.stackName, {
    config,
    description: 'Dado × Personio employee import: connect API, scheduled fetch, SQS worker, DynamoDB, alarms',
  });
  addNagPacks(app);
  return stack;
}
