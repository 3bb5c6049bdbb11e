import { describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../lib/connect/api.js';
import type { ConnectDeps } from '../../lib/connect/deps.js';
import { statusByCode } from '../../lib/connect/errors.js';
import { LOCAL_CALLER_ROLE_ARN } from '../../local/aws/identity.js';
import { asLocalAdmin, openapi, specViolations } from '../helpers/connect-support.js';

// docs/openapi.yaml and the handler agree: the same routes and methods, the same error codes and statuses.
// (Each connect test also checks every answer it gets against the file: see apiCaller in connect-support.ts.)

// Never reached: every request below is refused before the router calls anything (the allow-list is configuration).
const unreachable = new Proxy(
  {},
  {
    get: (_target, key) => {
      if (key === 'allowedCallers') return [LOCAL_CALLER_ROLE_ARN];
      throw new Error('a dependency was reached');
    },
  },
) as ConnectDeps;
const RUN = '20250301T120000.123Z-1a2b3c4d';
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'];
const paths = Object.entries(openapi.paths);
const errorCodes = (openapi.components.schemas['Error'] as { properties: { error: { properties: { code: { enum: string[] } } } } }).properties.error.properties
  .code.enum;

describe('docs/openapi.yaml', () => {
  describe.each(paths)('%s', (template, operations) => {
    const concrete = (tenantId: string) => template.replace('{tenantId}', tenantId).replace('{runId}', RUN);
    const documented = Object.keys(operations)
      .filter((k) => METHODS.includes(k.toUpperCase()))
      .map((m) => m.toUpperCase());

    it.each(METHODS)('%s is routed exactly when the file documents it', async (method) => {
      // Act: an invalid tenant id is refused only once the route and the method have matched
      const response = await handleApiRequest(unreachable, { method, path: concrete('NOT_VALID'), body: undefined, ...asLocalAdmin });

      // Assess
      const code = (response.body as { error: { code: string } }).error.code;
      expect(code).toBe(documented.includes(method) ? 'invalid_tenant_id' : 'method_not_allowed');
      expect(specViolations(method, concrete('NOT_VALID'), response.status, response.body)).toEqual([]);
    });

    it('lists the statuses every operation can answer (400, 403, 405, 413, 500)', () => {
      for (const method of documented) {
        const statuses = Object.keys((operations as Record<string, { responses: object }>)[method.toLowerCase()]!.responses);
        expect(statuses).toEqual(expect.arrayContaining(['400', '403', '405', '413', '500']));
      }
    });

    it('documents X-Dado-Actor on exactly the operations that refuse a request without it', async () => {
      for (const method of documented) {
        // Prepare
        const parameters = (operations as Record<string, { parameters?: { $ref?: string }[] }>)[method.toLowerCase()]!.parameters ?? [];
        const documentsActor = parameters.some((p) => p.$ref === '#/components/parameters/actor' || p.$ref === '#/components/parameters/actorUnlessPreview');

        // Act: no actor, and a tenant id that is refused right after it
        const response = await handleApiRequest(unreachable, { method, path: concrete('NOT_VALID'), body: undefined, caller: asLocalAdmin.caller });

        // Assess
        const code = (response.body as { error: { code: string } }).error.code;
        expect([method, code]).toEqual([method, documentsActor ? 'actor_required' : 'invalid_tenant_id']);
      }
    });

    it.each(METHODS)('%s answers a caller outside the allow-list 403, as the file documents, before routing', async (method) => {
      // Act: signed by a role the deployment does not list
      const response = await handleApiRequest(unreachable, {
        method,
        path: concrete('NOT_VALID'),
        body: undefined,
        ...asLocalAdmin,
        caller: { accountId: '000000000000', userArn: 'arn:aws:sts::000000000000:assumed-role/someone-else/s' },
      });

      // Assess
      expect([response.status, (response.body as { error: { code: string } }).error.code]).toEqual([403, 'forbidden']);
      if (documented.includes(method)) expect(specViolations(method, concrete('NOT_VALID'), response.status, response.body)).toEqual([]);
    });
  });

  it('lists exactly the error codes the API answers, each under a status some operation documents', () => {
    // Assess
    expect([...errorCodes].sort()).toEqual(Object.keys(statusByCode).sort());
    const documentedStatuses = new Set(
      paths.flatMap(([, operations]) =>
        Object.entries(operations as Record<string, { responses: object }>)
          .filter(([method]) => METHODS.includes(method.toUpperCase()))
          .flatMap(([, o]) => Object.keys(o.responses)),
      ),
    );
    for (const [code, status] of Object.entries(statusByCode)) expect([code, documentedStatuses.has(String(status))]).toEqual([code, true]);
  });

  it('refuses an answer that does not match it (the check can fail)', () => {
    // Act
    const violations = [
      specViolations('GET', '/tenants/acme/personio', 200, { tenantId: 'acme' }),
      specViolations('POST', '/tenants/acme/personio/imports', 200, { runId: RUN, status: 'accepted', tenantId: 'acme' }),
      specViolations('PUT', '/tenants/acme/personio', 400, { error: { code: 'oops', message: 'x' } }),
      specViolations('PUT', '/tenants/acme/personio', 200, { error: { code: 'invalid_request', message: 'x' } }),
    ];

    // Assess
    expect(violations.map((v) => v.length > 0)).toEqual([true, true, true, true]);
  });
});
