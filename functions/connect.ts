import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleApiRequest, type ApiResponse } from '../lib/connect/api.js';
import { loadConfig } from '../lib/config.js';
import { CredentialsStore } from '../lib/credentials/store.js';
import { RunStore } from '../lib/runs/store.js';
import { ConnectionStore } from '../lib/tenants/connections.js';
import { createDocumentClient, createSecretsClient } from './shared/clients.js';
import { createLogger, describeError } from './shared/logger.js';

const config = loadConfig(['connectionsTable', 'runsTable', 'secretPrefix', 'personioBaseUrl', 'personioAppId']);
const db = createDocumentClient();
const logger = createLogger('personio-connect');
const deps = {
  connections: new ConnectionStore(db, config.connectionsTable),
  runs: new RunStore(db, config.runsTable),
  credentials: new CredentialsStore(createSecretsClient(), config.secretPrefix),
  personio: { baseUrl: config.personioBaseUrl, appId: config.personioAppId },
  now: () => new Date(),
};

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const method = event.requestContext.http.method;
  const path = event.rawPath;
  let response: ApiResponse;
  try {
    const body = event.body === undefined ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    response = await handleApiRequest(deps, { method, path, body });
  } catch (error) {
    // Unexpected: log what we may (never the body: it can hold the secret) and answer without internals.
    logger.error('request failed', { method, path, error: describeError(error) });
    response = { status: 500, body: { error: { code: 'internal_error', message: 'Something went wrong on our side. Try again; if it keeps failing, contact support.' } } };
  }
  logger.info('request', { method, path, status: response.status });
  return { statusCode: response.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(response.body) };
};
