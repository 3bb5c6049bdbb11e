import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type {
  APIGatewayEventRequestContextIAMAuthorizer,
  APIGatewayEventRequestContextV2WithAuthorizer,
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { errorResponse, handleApiRequest, type ApiResponse } from '../lib/connect/api.js';
import { AuditTrail } from '../lib/connect/audit.js';
import { ACTOR_HEADER } from '../lib/connect/caller.js';
import { ConnectCredentials } from '../lib/connect/credentials.js';
import type { ConnectDeps } from '../lib/connect/deps.js';
import { ConnectError } from '../lib/connect/errors.js';
import { ConnectSettingsStore } from '../lib/connect/settings.js';
import { loadConfig } from '../lib/config.js';
import { CredentialsStore } from '../lib/credentials/store.js';
import { LambdaFetchInvoker } from '../lib/imports/invoker.js';
import { RunStore } from '../lib/runs/store.js';
import { EventBridgeSchedules } from '../lib/schedules/eventbridge.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { UserStore } from '../lib/users/store.js';
import { createSecretsClient, createStoreClient } from './shared/clients.js';
import { createLogger, describeError } from './shared/logger.js';
import { createMetrics, MetricUnit, metricNames } from './shared/metrics.js';

const config = loadConfig([
  'connectionsTable',
  'runsTable',
  'usersTable',
  'auditTable',
  'secretPrefix',
  'secretsKmsKeyId',
  'personioBaseUrl',
  'personioAppId',
  'deactivationThreshold',
  'scheduleGroupName',
  'schedulerRoleArn',
  'fetchFunctionArn',
  'fetchFunctionName',
  'scheduleExpression',
  'webhookBaseUrl',
  'reconcileScheduleExpression',
  'scheduleFlexibleWindowMinutes',
  'allowedCallers',
  'stage',
  'runRetentionDays',
  'pauseAfterCredentialFailures',
]);
const db = createStoreClient();
const secrets = createSecretsClient();
const logger = createLogger('personio-connect');
const metrics = createMetrics(config.stage);
const deps: ConnectDeps = {
  connections: new ConnectionStore(db, config.connectionsTable),
  settings: new ConnectSettingsStore(db, config.connectionsTable),
  runs: new RunStore(db, config.runsTable, { retentionDays: config.runRetentionDays }),
  users: new UserStore(db, config.usersTable),
  // New secrets and new versions go under the stage's key, tagged with tenant and stage.
  credentials: new ConnectCredentials(new CredentialsStore(secrets, config.secretPrefix, { kmsKeyId: config.secretsKmsKeyId, stage: config.stage }), secrets),
  schedules: new EventBridgeSchedules(new SchedulerClient({}), {
    groupName: config.scheduleGroupName,
    roleArn: config.schedulerRoleArn,
    targetArn: config.fetchFunctionArn,
    flexibleWindowMinutes: config.scheduleFlexibleWindowMinutes,
  }),
  imports: new LambdaFetchInvoker(new LambdaClient({}), config.fetchFunctionName),
  // The change happened; its entry goes to the logs whole (no secrets in it) for the alarm and for restoring it.
  audit: new AuditTrail(db, config.auditTable, (entry, error) => {
    logger.error('audit entry not stored', { auditEntry: entry, error: describeError(error) });
    // Rare, and the only metric connect emits: published at once, as its own EMF line, for the AuditEntriesNotStored alarm.
    metrics.addMetric(metricNames.auditEntriesNotStored, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  }),
  allowedCallers: config.allowedCallers,
  personio: { baseUrl: config.personioBaseUrl, appId: config.personioAppId },
  scheduleDefaults: { expression: config.scheduleExpression, flexibleWindowMinutes: config.scheduleFlexibleWindowMinutes },
  reconcileExpression: config.reconcileScheduleExpression,
  webhooks: { baseUrl: config.webhookBaseUrl },
  deactivationThreshold: config.deactivationThreshold,
  now: () => new Date(),
};

const internalError: ApiResponse = errorResponse(
  new ConnectError('internal_error', 'Something went wrong on our side. Try again; if it keeps failing, contact support.'),
);

/** API Gateway HTTP API (payload 2.0) → the connect API. Logs method, path and outcome, never a body (it can hold the secret). */
export const handler = async (event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  if (context) logger.addContext(context);
  const started = Date.now();
  const method = event.requestContext.http.method;
  const path = event.rawPath;
  logger.debug('request received', {
    method,
    path,
    queryKeys: [...new URLSearchParams(event.rawQueryString ?? '').keys()],
    bodyBytes: event.body?.length ?? 0,
  });
  let response: ApiResponse;
  try {
    const body = event.body === undefined ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    // Absent unless the route has IAM authorization: then the API refuses the request.
    const caller = (event.requestContext as Partial<APIGatewayEventRequestContextV2WithAuthorizer<APIGatewayEventRequestContextIAMAuthorizer>>).authorizer?.iam;
    response = await handleApiRequest(deps, { method, path, query: event.rawQueryString, body, caller, actor: event.headers?.[ACTOR_HEADER] });
  } catch (error) {
    // Unexpected: log what we may (our messages never carry secrets) and answer without internals.
    logger.error('request failed', { method, path, error: describeError(error) });
    response = internalError;
  }
  const code = (response.body as { error?: { code?: string } } | undefined)?.error?.code;
  logger.info('request', { method, path, status: response.status, ...(code ? { code } : {}), durationMs: Date.now() - started });
  return { statusCode: response.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(response.body) };
};
