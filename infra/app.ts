import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { ContextError, type DeploymentConfig, parseDeploymentConfig, type StageLock } from './config.js';
import { addProduct } from './product.js';

// The only place that reads CDK context (cdk.json, `-c key=value`) and the stage lock: everything below gets typed props.
const app = new App();
const locks = JSON.parse(readFileSync(new URL('./stages.lock.json', import.meta.url), 'utf8')) as Record<string, StageLock>;
let config: DeploymentConfig;
try {
  config = parseDeploymentConfig(app.node.getAllContext() as Record<string, unknown>, locks);
} catch (error) {
  if (!(error instanceof ContextError)) throw error;
  console.error(error.message);
  process.exit(1);
}
addProduct(app, config);
app.synth();
