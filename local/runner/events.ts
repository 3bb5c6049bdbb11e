import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayEventRequestContextIAMAuthorizer, APIGatewayProxyEventV2, Context, SQSEvent, SQSRecord, ScheduledEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_CALLER_ROLE_ARN, LOCAL_REGION } from '../aws/identity.js';

/** Typed Lambda events, shaped as AWS delivers them, for the local runner and the tests. */

/** The admin local changes are made for (X-Dado-Actor), unless a request names another. */
export const LOCAL_ACTOR = 'local-admin';

/** The role session a role's signer is, as API Gateway's IAM authorization reports it: `assumed-role/<role name>/<session>`. */
export function iamCaller(roleArn = LOCAL_CALLER_ROLE_ARN, session = 'local'): APIGatewayEventRequestContextIAMAuthorizer['iam'] {
  const [, partition = 'aws', , , account = '', resource = ''] = roleArn.split(':');
  const roleName = resource.split('/').pop() ?? '';
  return {
    accessKey: 'ASIALOCALCALLER',
    accountId: account,
    callerId: `AROALOCALCALLER:${session}`,
    cognitoIdentity: null,
    principalOrgId: 'o-local',
    userArn: `arn:${partition}:sts::${account}:assumed-role/${roleName}/${session}`,
    userId: `AROALOCALCALLER:${session}`,
  };
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * An HTTP API request, signed (IAM authorization) as the local caller role unless `caller` says otherwise (`null`:
 * no IAM context, as on a route without authorization); `query` is the raw query string; `headers` are added to the
 * JSON content type and, on a request that is not a read, an X-Dado-Actor of LOCAL_ACTOR (`actor: null` leaves it out).
 * Header names are lower-cased, as API Gateway does.
 */
export function httpEvent(
  method: string,
  path: string,
  body?: unknown,
  options: {
    query?: string;
    headers?: Record<string, string>;
    caller?: APIGatewayEventRequestContextIAMAuthorizer['iam'] | null;
    actor?: string | null;
  } = {},
): APIGatewayProxyEventV2 {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const now = new Date();
  const actor = options.actor === undefined ? (READS.has(method.toUpperCase()) ? null : LOCAL_ACTOR) : options.actor;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(actor === null ? {} : { 'x-dado-actor': actor }) };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  const caller = options.caller === undefined ? iamCaller() : options.caller;
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: options.query ?? '',
    headers,
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
  // The IAM variant of the event is the plain one plus `authorizer`.
  if (caller !== null) Object.assign(event.requestContext, { authorizer: { iam: caller } });
  return event;
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
