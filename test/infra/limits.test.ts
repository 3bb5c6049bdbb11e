import { readFileSync } from 'node:fs';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Key } from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { ImportQueue, workerEventSource } from '../../infra/constructs/import-queue.js';
import { PersonioImportStack } from '../../infra/stack.js';

// Concurrency governance (review M3): the fetch is capped (the global governor of Personio traffic and egress), the
// worker has a reservation no other function can take, at least what its SQS event source asks for.

type Resource = { Type: string; Properties?: Record<string, unknown> };

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

/** The committed stages' limits (cdk.json), written out: a change there shows here. */
const expected = {
  staging: { fetch: 5, worker: 10 },
  prod: { fetch: 20, worker: 50 },
} as const;

describe.each(['staging', 'prod'] as const)('limits of the %s stage', (stage) => {
  let resources: Record<string, Resource>;
  let stack: PersonioImportStack;

  const reservedOf = (fn: { node: { defaultChild?: unknown } }) =>
    resources[stack.resolve((fn.node.defaultChild as { logicalId: string }).logicalId) as string]?.Properties?.['ReservedConcurrentExecutions'];

  beforeAll(() => {
    // Prepare: the stage's stack as `cdk synth -c dado:stage=<stage>` builds it (bundling skipped)
    const stageContext = { ...context, 'dado:stage': stage };
    const config = parseDeploymentConfig(stageContext);
    expect(config.reservedConcurrency).toEqual(expected[stage]);
    const app = new App({ context: { ...stageContext, 'aws:cdk:bundling-stacks': [] } });
    stack = new PersonioImportStack(app, config.stackName, { config });
    resources = Template.fromStack(stack).toJSON()['Resources'] as Record<string, Resource>;
  });

  it("reserves the stage's concurrency for fetch and worker, one sweep at a time, and leaves connect unreserved", () => {
    // Assess
    expect(reservedOf(stack.functions.fetch)).toBe(expected[stage].fetch);
    expect(reservedOf(stack.functions.worker)).toBe(expected[stage].worker);
    expect(reservedOf(stack.functions.sweeper)).toBe(1);
    expect(reservedOf(stack.functions.connect)).toBeUndefined();
  });

  it("never lets the worker's event source ask for more workers than the worker has reserved", () => {
    // Prepare
    const workerId = stack.getLogicalId(stack.functions.worker.node.defaultChild as CfnElement);
    const mappings = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties?.['FunctionName']) === JSON.stringify({ Ref: workerId }),
    );

    // Assess
    expect(mappings).toHaveLength(1);
    const scaling = mappings[0]?.Properties?.['ScalingConfig'] as { MaximumConcurrency: number } | undefined;
    const maximum = scaling?.MaximumConcurrency;
    expect(maximum).toBe(workerEventSource.maxConcurrency);
    expect(maximum).toBeLessThanOrEqual(expected[stage].worker);
  });
});

describe("the worker's event source", () => {
  const queueFor = (reservedConcurrentExecutions?: number) => () => {
    const stack = new Stack(new App(), 'Probe');
    const worker = new LambdaFunction(stack, 'Worker', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('export const handler = async () => {}'),
      timeout: Duration.minutes(3),
      ...(reservedConcurrentExecutions === undefined ? {} : { reservedConcurrentExecutions }),
    });
    new ImportQueue(stack, 'ImportQueue', { worker, key: new Key(stack, 'Key'), redriveRoles: [] });
  };

  it('refuses a worker reserving fewer executions than the event source may ask for, or none, naming the setting to change', () => {
    expect(queueFor(workerEventSource.maxConcurrency - 1)).toThrow(/reservedConcurrency\.worker/);
    expect(queueFor(undefined)).toThrow(/reserved concurrency \(none\)/);
    expect(queueFor(workerEventSource.maxConcurrency)).not.toThrow();
  });
});
