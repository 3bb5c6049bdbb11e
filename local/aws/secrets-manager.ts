import type { IncomingMessage, ServerResponse } from 'node:http';
import { LOCAL_REGION } from './identity.js';
import { ApiError, parseJsonObject, readBody, sendJson, type Json } from './http.js';
import { startStandInServer } from './server.js';
import { SecretStore } from './secrets-manager/store.js';

/**
 * A stand-in for AWS Secrets Manager: no emulator can be installed offline, and the product must run
 * the real `@aws-sdk/client-secrets-manager` unchanged (it only sees AWS_ENDPOINT_URL_SECRETS_MANAGER).
 * So this speaks the real wire protocol (AWS JSON 1.1) and mirrors the service's error names,
 * HTTP statuses and messages for the operations the product uses. State lives in memory.
 *
 * Wire details the SDK depends on:
 * - the SDK (AwsJson1_1Protocol) takes the error name from the body's `__type` first, then a `code`
 *   field, then the `x-amzn-errortype` header; both `__type` and the header are sent, like AWS does;
 * - the message is read from `message` or `Message`. Secrets Manager's own errors carry `Message`
 *   (that is the member name in its model); the front end's errors (SerializationException,
 *   UnknownOperationException, ValidationException) carry `message`;
 * - dates are epoch seconds as JSON numbers.
 *
 * No response, error or log line ever contains a secret value: messages name fields, never values.
 */

export interface SecretsManagerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
}

export interface SecretsManagerStandIn {
  url: string;
  port: number;
  /** Requests received per operation (including ones answered with an error or while unavailable). */
  calls(): Record<string, number>;
  /** While true every request is answered 503 ServiceUnavailable, as when the service is down. */
  setUnavailable(v: boolean): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

const readRequest = (req: IncomingMessage) =>
  readBody(req, MAX_BODY_BYTES, () => new ApiError(413, 'SerializationException', 'Request body is too large.', true));
const parseJson = (text: string) => parseJsonObject(text, (message) => new ApiError(400, 'SerializationException', message, true));
const send = (res: ServerResponse, status: number, body: Json, errorType?: string) => sendJson(res, status, body, 'application/x-amz-json-1.1', errorType);

function sendError(res: ServerResponse, error: ApiError): void {
  send(res, error.status, { __type: error.type, [error.lowerCaseMessage ? 'message' : 'Message']: error.message }, error.type);
}

export async function startSecretsManager(opts: SecretsManagerOptions = {}): Promise<SecretsManagerStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const store = new SecretStore(opts.region ?? LOCAL_REGION);
  const counts: Record<string, number> = {};
  let unavailable = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' && target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : undefined;
    if (operation !== undefined) counts[operation] = (counts[operation] ?? 0) + 1;
    if (unavailable) {
      // Drain the body first so the connection stays usable for the SDK's retry.
      await readRequest(req);
      throw new ApiError(503, 'ServiceUnavailable', 'The service is unavailable. Please try again later.', true);
    }
    if (req.method !== 'POST' || operation === undefined) {
      await readRequest(req);
      throw new ApiError(400, 'UnknownOperationException', 'Expected POST / with X-Amz-Target: secretsmanager.<Operation>.', true);
    }
    const body = parseJson(await readRequest(req));
    send(res, 200, store.handle(operation, body));
  };

  const server = await startStandInServer({
    port: opts.port ?? 0,
    host,
    handle,
    sendError,
    internalError: new ApiError(500, 'InternalServiceError', 'An error occurred on the server side.'),
  });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`,
    port: server.port,
    calls: () => ({ ...counts }),
    setUnavailable: (v: boolean) => {
      unavailable = v;
    },
    close: server.close,
  };
}
