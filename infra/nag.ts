import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Runs the AwsSolutions and Serverless packs as CDK policy-validation plugins on every synth. An error fails the
 * synth; the CLI prints warnings and errors alike, with the report in cdk.out/policy-validation-report.json.
 */
export function addNagPacks(scope: IConstruct): void {
  Validations.of(scope).addPlugins(new AwsSolutionsChecks(scope, { verbose: true }), new ServerlessChecks(scope, { verbose: true }));
}

/**
 * Acknowledges one finding (`Rule` or `Rule[Finding]`, e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope` and
 * everything under it. Acknowledge on the narrowest construct that owns the cause, and say why it is acceptable.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) throw new Error(`The acknowledgement of ${id} at ${scope.node.path} needs a real reason.`);
  Validations.of(scope).acknowledge({ id, reason });
}
