import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { loadFixture } from './data.js';
import type { Reply } from './responses.js';

/**
 * Personio v2's two error shapes: the token endpoint's OAuth2 error (`{error, error_description, error_uri, timestamp,
 * trace_id, meta}`, fixtures/v2-auth-token.example.json) and the resource endpoints' problem document
 * (`{personio_trace_id, timestamp, errors: [{title, detail, type}]}`, fixtures/v2-errors.example.json).
 */

const PROBLEM = 'application/problem+json';
const ERRORS_DOC = 'https://developer.personio.de/reference/errors';

const oauthExamples = z.record(z.string(), z.record(z.string(), z.unknown())).parse(loadFixture('v2-auth-token.example.json'));

function oauthExample(name: string): Record<string, unknown> {
  const found = oauthExamples[name];
  if (!found) throw new Error(`fixtures/v2-auth-token.example.json has no ${name} example`);
  return found;
}

function oauthError(example: Record<string, unknown>, extra: Record<string, unknown> = {}): Reply {
  const body = { ...example, ...extra, timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), trace_id: randomUUID() };
  return { status: 400, body: JSON.stringify(body), contentType: PROBLEM };
}

const invalidContentType = oauthExample('400 OAuth2TokenInvalidRequestContentType');
const missingParameters = oauthExample('400 OAuth2TokenRequiredParametersMissing');
const unauthorizedClient = oauthExample('400 OAuth2TokenUnauthorizedClient');
const invalidScope = oauthExample('400 OAuth2TokenInvalidScope');
const invalidGrant = oauthExample('400 OAuth2TokenInvalidGrant');
// Not among the fixture's examples; text from the same spec (credentials-service-api-v2, components.examples).
const invalidClient = {
  error: 'invalid_client',
  error_description:
    'Client authentication failed (e.g., unknown client, wrong secret, no client authentication included, or unsupported authentication method).',
  error_uri: `${ERRORS_DOC}#credentials.oauth2.invalid_client`,
};
const unsupportedGrantType = {
  error: 'unsupported_grant_type',
  error_description: 'The requested authorization grant type is not supported by the server.',
  error_uri: `${ERRORS_DOC}#credentials.oauth2.unsupported_grant_type`,
};

export const oauthErrors = {
  invalidContentType: (): Reply => oauthError(invalidContentType),
  missingParameters: (missing: string[]): Reply => oauthError(missingParameters, { meta: { missing_parameters: missing } }),
  unsupportedGrantType: (grantType: string): Reply => oauthError(unsupportedGrantType, { meta: { grant_type: grantType } }),
  /**
   * The spec documents bad credentials as 400, not 401: an unknown client id as `invalid_client`, a wrong secret for a
   * known one as `unauthorized_client` (its "Invalid Credentials" request example).
   */
  invalidClient: (): Reply => oauthError(invalidClient),
  unauthorizedClient: (): Reply => oauthError(unauthorizedClient),
  invalidScope: (): Reply => oauthError(invalidScope),
  /** A known scope the credential does not have ("client doesn't have access to all attributes in the requested scope"). */
  invalidGrant: (): Reply => oauthError(invalidGrant),
};

function problem(status: number, title: string, detail: string, type: string, meta?: Record<string, unknown>): Reply {
  const body = {
    personio_trace_id: randomUUID(),
    timestamp: new Date().toISOString(),
    errors: [{ title, detail, type: `${ERRORS_DOC}#${type}`, ...(meta ? { _meta: meta } : {}) }],
  };
  return { status, body: JSON.stringify(body), contentType: PROBLEM };
}

export const problems = {
  badRequest: (detail: string): Reply => problem(400, 'Bad request', detail, 'common.bad_request'),
  /** Missing, malformed, unknown, expired or revoked bearer token (and a v1 token). */
  unauthorized: (): Reply => problem(401, 'Unauthorized', 'The access token is missing, invalid or expired.', 'common.unauthorized'),
  /** Wording as users quote it from Personio (NOTES.md §1.2). */
  insufficientScope: (scope: string): Reply =>
    problem(403, 'Insufficient access scope', 'Client scope insufficient to access resource', 'common.forbidden', { required_scope: scope }),
  notFound: (): Reply =>
    problem(
      404,
      'Resource not found',
      'The requested resource was not found. The resource could have been deleted or never existed in our system.',
      'common.requested_resource_not_found',
    ),
  methodNotAllowed: (): Reply => problem(405, 'Method not allowed', 'The method is not supported for this resource.', 'common.method_not_allowed'),
  conflict: (detail: string): Reply => problem(409, 'Conflict', detail, 'webhooks.conflict'),
  unprocessable: (detail: string, meta?: Record<string, unknown>): Reply => problem(422, 'Unprocessable entity', detail, 'webhooks.unprocessable_entity', meta),
};
