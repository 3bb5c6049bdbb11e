/**
 * Every state a run can be in before it is final has a lease: a time by which it must have moved on. A run whose
 * lease has expired has stalled (its fetch was killed, a message of it sits in the DLQ, the worker finishing it died)
 * and whoever comes next for the tenant (its next fetch, the API, the sweeper) settles it: `fetching` and
 * `processing` fail with `run_stalled`; a stalled `finalizing` or `approving` is claimed again and finished.
 *
 * The durations assume the deployed timeouts (infra/constructs/functions.ts): the fetch's lease is its own deadline
 * plus a margin; the worker's timeout is 3 minutes and its transient failures come back within seconds, so a run
 * whose messages are not all processed 45 minutes after its fetch closed has a message that will not succeed (or
 * reached the DLQ). Failing such a run is always safe: a failed run deactivates nobody, and its messages still apply
 * their data when they are processed later.
 */
export const runLeases = {
  /** Past the fetch's own deadline: the fetch is certainly gone (Lambda ended it). */
  fetchMarginMs: 60_000,
  /** From "import now" accepting a run until its fetch starts (an asynchronous invoke normally arrives in a second). */
  queuedMs: 5 * 60_000,
  processingMs: 45 * 60_000,
  /** Longer than the worker's timeout: a finalization older than this has died. */
  finalizingMs: 5 * 60_000,
  /** Longer than the connect function's timeout, for the same reason. */
  approvingMs: 5 * 60_000,
  /**
   * A processing run whose lease ran out while its messages were still being processed (a long queue backlog at the
   * top of the hour) gets this much more from its last processed message: a backlog is not a stall.
   */
  progressGraceMs: 15 * 60_000,
} as const;

/** How often the sweeper runs (infra schedules it): a stalled run is settled within its lease plus this. */
export const SWEEP_PERIOD_MS = 5 * 60_000;

export const leaseUntil = (now: Date, ms: number): number => now.getTime() + ms;

export const leaseExpired = (leaseExpiresAt: number | undefined, now: Date): boolean => leaseExpiresAt === undefined || leaseExpiresAt < now.getTime();
