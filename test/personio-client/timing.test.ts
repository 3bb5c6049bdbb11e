import { describe, expect, it } from 'vitest';
import { pageEmployees } from '../../lib/personio/pager.js';
import { startPersonioSim } from '../../local/personio-sim/index.js';
import { useSimulator, CREDENTIALS, type Sent, recordingFetch, rejection, ownLimiter, TIMER_SLACK_MS } from './support.js';

/**
 * The Personio client over real HTTP against the simulator. Waits of a second and more are the client's real
 * back-off (Personio asks for ≥ 1 s between retries), so they are budgeted rather than faked.
 */

describe(`PersonioClient against the Personio simulator: timeouts, the deadline and our own pacing`, () => {
  const simulator = useSimulator();

  describe('timeouts and the deadline', () => {
    it('times out an attempt that takes longer than timeoutMs (no retry)', async () => {
      // Prepare
      const sent: Sent[] = [];
      const personio = simulator.client({ timeoutMs: 100, retryLimit: 0, limiter: ownLimiter(), fetch: recordingFetch(sent) });
      await personio.authenticate();
      simulator.sim.setKnobs({ latencyMs: 600, latencyJitter: false });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess: the attempt was cut, not answered (an answer would have made the call succeed)
      expect(error.code).toBe('timeout');
      expect(error.retryable).toBe(true);
      const lists = sent.filter((s) => s.method === 'GET');
      expect(lists).toHaveLength(1);
      expect(lists[0]?.status).toBeUndefined();
      expect(simulator.sim.stats().employeeListRequests).toBe(1);
    });

    it('retries a timed-out attempt once after at least 1 s, then gives up with timeout', async () => {
      // Prepare
      const personio = simulator.client({ timeoutMs: 100, retryLimit: 1, limiter: ownLimiter() });
      await personio.authenticate();
      simulator.sim.setKnobs({ latencyMs: 600, latencyJitter: false });
      const started = Date.now();

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('timeout');
      expect(simulator.sim.stats().employeeListRequests).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_200 - TIMER_SLACK_MS);
    });

    it('sends nothing once the deadline has passed', async () => {
      // Prepare
      const personio = simulator.client({ deadline: Date.now() - 1 });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess
      expect(error.code).toBe('timeout');
      expect(simulator.sim.stats().requests).toBe(0);
    });

    it('stops at a close deadline with timeout: the attempt is cut at the deadline, and no request starts after it', async () => {
      // Prepare: the token is already cached; Personio now takes 2 s per answer, well within the 10 s timeoutMs
      await simulator.client().authenticate();
      simulator.sim.setKnobs({ latencyMs: 2_000, latencyJitter: false });
      simulator.sim.resetStats();
      const sent: Sent[] = [];
      const deadline = Date.now() + 300;
      const personio = simulator.client({ deadline, fetch: recordingFetch(sent), limiter: ownLimiter() });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));

      // Assess: only the deadline could cut an attempt before its 2 s answer; an answer would have made the call succeed
      expect(error.code).toBe('timeout');
      expect(sent.length).toBeGreaterThan(0);
      for (const request of sent) {
        expect(request.at).toBeLessThan(deadline);
        expect(request.status).toBeUndefined();
      }
      // A retry left running after the rejection would start within the first back-off (at most 1.5 s): none may.
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      expect(simulator.sim.stats().requests).toBe(sent.length);
    });

    it('does not start a retry whose back-off would overrun the deadline, nor sleep before giving up', async () => {
      // Prepare
      await simulator.client().authenticate();
      simulator.sim.setKnobs({ errorRate: 1 });
      simulator.sim.resetStats();
      const sent: Sent[] = [];
      const personio = simulator.client({ deadline: Date.now() + 1_500, fetch: recordingFetch(sent), limiter: ownLimiter() });

      // Act
      const error = await rejection(personio.listEmployees({ limit: 10, offset: 0 }));
      const failedAt = Date.now();

      // Assess: the first back-off is at least 1 s, so the client decided on the answer rather than after sleeping
      expect(error.code).toBe('unavailable');
      expect(error.message).toMatch(/Retrying in 1(\.\d)? s would pass the time budget/);
      expect(simulator.sim.stats().employeeListRequests).toBe(1);
      expect(personio.stats.requests).toBe(1);
      expect(sent).toHaveLength(1);
      expect(failedAt - (sent[0]?.answeredAt ?? Number.NaN)).toBeLessThan(1_000);
    });
  });

  describe('our own pacing', () => {
    it('causes no 429 on a quiet simulator: 1,000 employees paged twice in a row with a fresh default limiter', async () => {
      // Prepare: a fresh simulator, so the client's shared default limiter for it is fresh too
      const quiet = await startPersonioSim({ employees: 1_000, seed: 5, credentials: [CREDENTIALS] });
      try {
        const personio = simulator.client({ baseUrl: quiet.url });
        const counts: number[] = [];

        // Act
        for (let run = 0; run < 2; run++) {
          let count = 0;
          const summary = await pageEmployees(personio, { pageSize: 100 }, async (employees) => {
            count += employees.length;
          });
          // Page 0, then 10 pages that overlap their neighbour by one employee.
          expect(summary.pages).toBe(11);
          counts.push(count);
        }

        // Assess
        expect(counts).toEqual([1_000, 1_000]);
        expect(quiet.stats().employeeListRequests).toBe(22);
        expect(quiet.stats().rateLimited).toBe(0);
        expect(personio.stats.rateLimited).toBe(0);
      } finally {
        await quiet.close();
      }
    });
  });
});
