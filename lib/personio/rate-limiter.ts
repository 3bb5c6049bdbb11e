import { sleep } from '../util/concurrency.js';

/**
 * Sliding-window limiter for Personio's per-credential limits (300/min and 15/s on the employees
 * endpoints). Each window keeps the start times of the requests it admitted; a caller waits until
 * every window has room. A small margin on the window length absorbs the difference between when we
 * send and when Personio counts, so our own pacing never causes a 429.
 */
export interface Window {
  limit: number;
  ms: number;
}

export interface RateLimiterOptions {
  windows: Window[];
  marginMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const personioEmployeeWindows: Window[] = [
  { limit: 15, ms: 1_000 },
  { limit: 300, ms: 60_000 },
];

export class RateLimiter {
  private readonly windows: { limit: number; ms: number; starts: number[] }[];
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: RateLimiterOptions) {
    // 100 ms absorbs event-loop and connection-setup delays between our grant and Personio's count.
    const margin = options.marginMs ?? 100;
    this.windows = options.windows.map((w) => ({ limit: w.limit, ms: w.ms + margin, starts: [] }));
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
  }

  /** Resolves when one more request may start; callers are admitted in arrival order. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot());
    // A failed wait must not wedge the queue for everyone behind it.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      const now = this.now();
      let waitMs = 0;
      for (const w of this.windows) {
        while (w.starts.length > 0 && (w.starts[0] as number) <= now - w.ms) w.starts.shift();
        if (w.starts.length >= w.limit) waitMs = Math.max(waitMs, (w.starts[0] as number) + w.ms - now);
      }
      if (waitMs <= 0) {
        for (const w of this.windows) w.starts.push(now);
        return;
      }
      await this.sleep(waitMs);
    }
  }
}
