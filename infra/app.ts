import { App } from 'aws-cdk-lib';
import { ContextError, type DeploymentConfig, parseDeploymentConfig } from './config.js';
import { addProduct } from './product.js';

// The only place that reads CDK context (cdk.json, `-c key=value`): everything below gets typed props.
const app = new App();
let config: DeploymentConfig;
try {
  config = parseDeploymentConfig(app.node.getAllContext() as Record<string, unknown>);
} catch (error) {
  if (!(error instanceof ContextError)) throw error;
  console.error(error.message);
  process.exit(1);
}
addProduct(app, config);
app.synth();
