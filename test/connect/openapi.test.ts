import { describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../lib/connect/api.js';
import type { ConnectDeps } from '../../lib/connect/deps.js';
import { statusByCode } from '../../lib/connect/errors.js';
import { openapi, specViolations } from '../helpers/connect-support.js';

// docs/openapi.yaml and the handler agree: the same routes and methods, the same error codes and statuses.
// (Each connect test also checks every answer it gets against the file: see apiCaller in connect-support.ts.)

// Never reached: every request below is refused before the router calls anything.
const unreachable = new Proxy(
  {},
  {
    get: () => {
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
      const response = await handleApiRequest(unreachable, { method, path: concrete('NOT_VALID'), body: undefined });

      // Assess
      const code = (response.body as { error: { code: string } }).error.code;
      expect(code).toBe(documented.includes(method) ? 'invalid_tenant_id' : 'method_not_allowed');
      expect(specViolations(method, concrete('NOT_VALID'), response.status, response.body)).toEqual([]);
    });

    it('lists the statuses every operation can answer (400, 405, 413, 500)', () => {
      for (const method of documented) {
        const statuses = Object.keys((operations as Record<string, { responses: object }>)[method.toLowerCase()]!.responses);
        expect(statuses).toEqual(expect.arrayContaining(['400', '405', '413', '500']));
      }
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
