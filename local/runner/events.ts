import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSEvent, SQSRecord, ScheduledEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../aws/identity.js';

/** Typed Lambda events, shaped as AWS delivers them, for the local runner and the tests. */

/** An HTTP API request; `query` is the raw query string, `headers` are added to the JSON content type. */
export function httpEvent(
  method: string,
  path: string,
  body?: unknown,
  options: { query?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: options.query ?? '',
    headers: { 'content-type': 'application/json', ...options.headers },
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'dado-local' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(text === undefined ? {} : { body: text }),
    isBase64Encoded: false,
  };
}

export function scheduledEvent(tenantId: string): ScheduledEvent<{ tenantId: string }> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: LOCAL_ACCOUNT_ID,
    time: new Date().toISOString(),
    region: process.env['AWS_REGION'] ?? LOCAL_REGION,
    resources: [],
    detail: { tenantId },
  };
}

export function sqsEvent(messages: Message[], queueArn = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:import`): SQSEvent {
  const records: SQSRecord[] = messages.map((m) => ({
    messageId: m.MessageId ?? randomUUID(),
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: m.Attributes?.['ApproximateReceiveCount'] ?? '1',
      SentTimestamp: m.Attributes?.['SentTimestamp'] ?? String(Date.now()),
      SenderId: m.Attributes?.['SenderId'] ?? 'local',
      ApproximateFirstReceiveTimestamp: m.Attributes?.['ApproximateFirstReceiveTimestamp'] ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: process.env['AWS_REGION'] ?? LOCAL_REGION,
  }));
  return { Records: records };
}

export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The fetch's timeout when run locally (as deployed: 15 minutes). */
const FETCH_TIMEOUT_MS = 15 * 60_000;

/** A context for the fetch function, as Lambda gives it: its name and its 15-minute timeout. */
export function fetchContext(): Context {
  return lambdaContext('personio-fetch', FETCH_TIMEOUT_MS);
}
