import * as z from 'zod';
import { loadFixture } from './data.js';

/** A ready-to-send answer: status, body text, extra headers. */
export interface Reply {
  status: number;
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json';

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(body), contentType: JSON_TYPE, ...(headers ? { headers } : {}) };
}

/** Personio v1's error envelope. */
export function personioError(code: number, message: string, headers?: Record<string, string>): Reply {
  return json(code, { success: false, error: { code, message } }, headers);
}

// The exact 401/403/404 bodies of the official spec's examples (fixtures/v1-errors.example.json).
const examples = z
  .record(z.string(), z.object({ success: z.literal(false), error: z.object({ code: z.number(), message: z.string() }) }))
  .parse(loadFixture('v1-errors.example.json'));

function exampleBody(status: number): string {
  const found = Object.entries(examples).find(([name]) => name.startsWith(`${status} `));
  if (!found) throw new Error(`fixtures/v1-errors.example.json has no ${status} example`);
  return JSON.stringify(found[1]);
}

const unauthorizedBody = exampleBody(401);
const forbiddenBody = exampleBody(403);
const notFoundBody = exampleBody(404);

export const replies = {
  /** No or malformed `Authorization: Bearer …`. */
  unauthorized: (): Reply => ({ status: 401, body: unauthorizedBody, contentType: JSON_TYPE }),
  /** Unknown, expired or revoked token. */
  forbidden: (): Reply => ({ status: 403, body: forbiddenBody, contentType: JSON_TYPE }),
  /** Personio's 404 (localised, trailing space included) for an unknown employee and, here, any unknown path. */
  notFound: (): Reply => ({ status: 404, body: notFoundBody, contentType: JSON_TYPE }),
  wrongCredentials: (): Reply => personioError(401, 'Wrong credentials'),
  methodNotAllowed: (): Reply => personioError(405, 'Method Not Allowed'),
  tooManyRequests: (retryAfterSeconds: number | null): Reply =>
    personioError(429, 'Too Many Requests', retryAfterSeconds === null ? undefined : { 'Retry-After': String(retryAfterSeconds) }),
  unprocessable: (message: string): Reply => personioError(422, message),
  /** The three 5xx flavours a client meets: Personio's envelope, a gateway's HTML page, a load balancer's JSON. */
  serverFault: (kind: number): Reply =>
    kind === 0
      ? personioError(500, 'Something went wrong')
      : kind === 1
        ? {
            status: 502,
            body: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n',
            contentType: 'text/html',
          }
        : json(503, { message: 'Service Unavailable' }),
};
