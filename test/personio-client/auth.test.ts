import { describe, expect, it } from 'vitest';
import { startPersonioSim } from '../../local/personio-sim/index.js';
import { useSimulator, CREDENTIALS, WRONG_SECRET, type Sent, recordingFetch, rejection, renderings } from './support.js';

/**
 * The Personio client over real HTTP against the simulator. Waits of a second and more are the client's real
 * back-off (Personio asks for ≥ 1 s between retries), so they are budgeted rather than faked.
 */

describe(`PersonioClient against the Personio simulator: authentication, the token cache and re-authentication`, () => {
  const simulator = useSimulator();

  describe('authenticate()', () => {
    it('obtains a token with good credentials, and the next call needs no second auth', async () => {
      // Prepare
      const personio = simulator.client();

      // Act
      await personio.authenticate();
      const page = await personio.listEmployees({ limit: 5, offset: 0 });

      // Assess
      expect(page.data).toHaveLength(5);
      expect(simulator.sim.stats().authCalls).toBe(1);
      expect(personio.stats.authCalls).toBe(1);
    });

    it('rejects wrong credentials as invalid_credentials with the status, never echoing the secret, and caches nothing', async () => {
      // Prepare
      const personio = simulator.client({ credentials: { clientId: CREDENTIALS.clientId, clientSecret: WRONG_SECRET } });

      // Act
      const error = await rejection(personio.authenticate());
      const again = await rejection(personio.authenticate());

      // Assess
      expect(error.code).toBe('invalid_credentials');
      expect(error.status).toBe(401);
      expect(error.retryable).toBe(false);
      for (const text of renderings(error)) expect(text).not.toContain(WRONG_SECRET);
      // A 401 from /v1/auth is final: no retries; and a failure is not cached, so the second try asks again.
      expect(again.code).toBe('invalid_credentials');
      expect(simulator.sim.stats().authCalls).toBe(2);
    });

    it('rejects an unknown client id the same way', async () => {
      // Prepare
      const personio = simulator.client({ credentials: { clientId: 'papi-nobody', clientSecret: WRONG_SECRET } });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 1, offset: 0 }));

      // Assess
      expect(error.code).toBe('invalid_credentials');
      expect(error.status).toBe(401);
      for (const text of renderings(error)) expect(text).not.toContain(WRONG_SECRET);
      expect(simulator.sim.stats().employeeListRequests).toBe(0);
    });
  });

  describe('the token cache', () => {
    it('authenticates once for 10 concurrent calls, and a second client with the same credentials reuses the token', async () => {
      // Prepare
      const first = simulator.client();
      const second = simulator.client();

      // Act
      const pages = await Promise.all(Array.from({ length: 10 }, (_, i) => first.listEmployees({ limit: 10, offset: i * 10 })));
      const authAfterFirst = simulator.sim.stats().authCalls;
      const secondPage = await second.listEmployees({ limit: 10, offset: 100 });

      // Assess
      expect(pages.every((page) => page.data.length === 10)).toBe(true);
      expect(authAfterFirst).toBe(1);
      expect(first.stats.authCalls).toBe(1);
      expect(secondPage.data).toHaveLength(10);
      expect(simulator.sim.stats().authCalls).toBe(1);
      expect(second.stats.authCalls).toBe(0);
    });

    it('keeps tokens apart per credential', async () => {
      // Prepare
      const sent: Sent[] = [];
      const ours = simulator.client({ fetch: recordingFetch(sent) });
      const theirs = simulator.client({ credentials: { clientId: 'papi-other-client', clientSecret: 'papi-other-secret' }, fetch: recordingFetch(sent) });

      // Act
      await ours.listEmployees({ limit: 1, offset: 0 });
      await theirs.listEmployees({ limit: 1, offset: 0 });

      // Assess
      expect(simulator.sim.stats().authCalls).toBe(2);
      const bearers = sent.filter((s) => s.method === 'GET').map((s) => s.authorization);
      expect(bearers).toHaveLength(2);
      expect(bearers[0]).toMatch(/^Bearer papi-/);
      expect(bearers[1]).toMatch(/^Bearer papi-/);
      expect(bearers[0]).not.toBe(bearers[1]);
    });
  });

  describe('re-authentication', () => {
    it('re-authenticates once when the token is revoked between calls, and the call succeeds', async () => {
      // Prepare
      const personio = simulator.client();
      await personio.listEmployees({ limit: 5, offset: 0 });

      // Act
      simulator.sim.revokeTokens();
      const page = await personio.listEmployees({ limit: 5, offset: 5 });

      // Assess
      expect(page.data).toHaveLength(5);
      expect(simulator.sim.stats().authCalls).toBe(2);
      expect(simulator.sim.stats().byStatus['403']).toBe(1);
      expect(personio.stats.authCalls).toBe(2);
    });

    it('fails typed (forbidden) when the fresh token is refused too, after exactly one re-auth', async () => {
      // Prepare: a working token first, then every token Personio hands out is already expired
      const personio = simulator.client();
      await personio.listEmployees({ limit: 1, offset: 0 });
      simulator.sim.setKnobs({ tokenTtlSeconds: 0 });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 1, offset: 1 }));

      // Assess
      expect(error.code).toBe('forbidden');
      expect(error.status).toBe(403);
      expect(simulator.sim.stats().authCalls).toBe(2);
      expect(simulator.sim.stats().byStatus['403']).toBe(2);
    });

    it('fails typed (invalid_credentials) when the credential was revoked in Personio mid-run', async () => {
      // Prepare: a token cached against one simulator; then the same host comes back without that credential
      const first = await startPersonioSim({ employees: 5, credentials: [CREDENTIALS] });
      const port = first.port;
      const personio = simulator.client({ baseUrl: first.url });
      await personio.listEmployees({ limit: 1, offset: 0 });
      await first.close();
      const revoked = await startPersonioSim({ port, employees: 5, credentials: [{ clientId: 'papi-someone-else', clientSecret: 'x' }] });

      try {
        // Act
        const error = await rejection(personio.listEmployees({ limit: 1, offset: 1 }));

        // Assess
        expect(error.code).toBe('invalid_credentials');
        expect(error.status).toBe(401);
        for (const text of renderings(error)) expect(text).not.toContain(CREDENTIALS.clientSecret);
        expect(revoked.stats().byStatus['403']).toBe(1);
        expect(revoked.stats().authCalls).toBe(1);
      } finally {
        await revoked.close();
      }
    });
  });
});
