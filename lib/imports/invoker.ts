import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { CodedError, errorName } from '../util/errors.js';

/** What "import now" sends the fetch: the run id is chosen by connect, so it can answer with it at once. */
export interface FetchEvent {
  tenantId: string;
  runId: string;
}

/** Starts a fetch without waiting for it; behind an interface so lib/connect needs no Lambda SDK. */
export interface FetchInvoker {
  invokeAsync(event: FetchEvent): Promise<void>;
}

export class InvokeError extends CodedError<'import_unavailable'> {
  override readonly name = 'InvokeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('import_unavailable', message, options);
  }
}

/** Invokes the fetch function asynchronously (InvocationType Event): Lambda queues the event and answers 202. */
export class LambdaFetchInvoker implements FetchInvoker {
  constructor(
    private readonly client: Pick<LambdaClient, 'send'>,
    private readonly functionName: string,
  ) {}

  async invokeAsync(event: FetchEvent): Promise<void> {
    let status: number | undefined;
    try {
      const result = await this.client.send(
        new InvokeCommand({ FunctionName: this.functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(event)) }),
      );
      status = result.StatusCode;
    } catch (error) {
      throw new InvokeError(`Lambda could not start the import (${errorName(error)}).`, { cause: error });
    }
    if (status !== 202) throw new InvokeError(`Lambda did not accept the import (status ${status ?? 'none'}).`);
  }
}
