import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvokeError, LambdaFetchInvoker } from '../../lib/imports/invoker.js';
import { startLambda, type LambdaFailure, type LambdaStandIn } from '../../local/aws/lambda.js';

// "Import now" starts the fetch through Lambda's asynchronous Invoke; locally through this stand-in.

describe('the fetch invoker and the local Lambda stand-in', () => {
  let lambda: LambdaStandIn;
  let client: LambdaClient;
  const received: unknown[] = [];
  const reported: LambdaFailure[] = [];
  let release: () => void = () => {};

  beforeAll(async () => {
    lambda = await startLambda({ onFailure: (f) => reported.push(f) });
    lambda.register('fetch', async (event) => {
      await new Promise<void>((resolve) => (release = resolve));
      received.push(event);
      return { ok: true };
    });
    lambda.register('crashing', async () => {
      throw new Error('the handler crashed');
    });
    lambda.register('echo', async (event) => event);
    client = new LambdaClient({ endpoint: lambda.url, region: 'eu-central-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  });

  afterAll(async () => {
    client?.destroy();
    await lambda?.close();
  });

  it('answers an asynchronous invoke with 202 before the function has run, then runs it with the event', async () => {
    // Act
    await new LambdaFetchInvoker(client, 'fetch').invokeAsync({ tenantId: 'acme', runId: '20250301T120000.123Z-1a2b3c4d' });

    // Assess: accepted while the handler still waits
    expect(received).toEqual([]);
    release();
    await lambda.idle();
    expect(received).toEqual([{ tenantId: 'acme', runId: '20250301T120000.123Z-1a2b3c4d' }]);
  });

  it('reports a function that throws in the background (the invoke itself was accepted)', async () => {
    // Act
    await new LambdaFetchInvoker(client, 'crashing').invokeAsync({ tenantId: 'acme', runId: '20250301T120000.123Z-1a2b3c4d' });
    await lambda.idle();

    // Assess
    expect(reported.map((f) => [f.functionName, (f.error as Error).message])).toEqual([['crashing', 'the handler crashed']]);
    expect(lambda.failures()).toHaveLength(1);
  });

  it('throws an InvokeError (import_unavailable) for a function Lambda does not know', async () => {
    // Act
    const error = await new LambdaFetchInvoker(client, 'missing')
      .invokeAsync({ tenantId: 'acme', runId: '20250301T120000.123Z-1a2b3c4d' })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InvokeError);
    expect(error).toMatchObject({ code: 'import_unavailable', message: 'Lambda could not start the import (ResourceNotFoundException).' });
  });

  it('answers a synchronous invoke with the result, by name or ARN', async () => {
    // Act
    const result = await client.send(
      new InvokeCommand({ FunctionName: 'arn:aws:lambda:eu-central-1:000000000000:function:echo', Payload: new TextEncoder().encode('{"a":1}') }),
    );

    // Assess
    expect(result.StatusCode).toBe(200);
    expect(JSON.parse(new TextDecoder().decode(result.Payload))).toEqual({ a: 1 });
  });
});
