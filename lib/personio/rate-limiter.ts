import { PersonioError } from './errors.js';
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

interface Waiter {
  until: number;
  resolve: () => void;
  reject: (error: PersonioError) => void;
}

// One settled promise for every caller admitted at once: the hot path allocates nothing.
const admitted: Promise<void> = Promise.resolve();

export class RateLimiter {
  private readonly windows: { limit: number; ms: number; starts: number[] }[];
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Callers in arrival order; never empty while a wake-up is pending, always empty otherwise. */
  private readonly waiters: Waiter[] = [];
  /** When the pending wake-up is due: the earliest slot any waiter can get. */
  private wakeAt: number | undefined;
  private readonly wake = (): void => this.admitWaiters();

  constructor(options: RateLimiterOptions) {
    // 100 ms absorbs event-loop and connection-setup delays between our grant and Personio's count.
    const margin = options.marginMs ?? 100;
    this.windows = options.windows.map((w) => ({ limit: w.limit, ms: w.ms + margin, starts: [] }));
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
  }

  /**
   * Resolves when one more request may start; callers are admitted in arrival order. With `until` (epoch ms), a caller
   * whose slot would come later rejects at once with `rate_limited` instead of waiting, takes no slot, and holds up
   * nobody behind it. A slot free now is always granted: the bound is on waiting.
   */
  acquire(until = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.wakeAt !== undefined) {
      // Nobody queued behind the head can start before the head's slot.
      if (this.wakeAt > until) return Promise.reject(tooLate());
      return this.enqueue(until);
    }
    const now = this.now();
    const waitMs = this.waitMs(now);
    if (waitMs <= 0) {
      this.take(now);
      return admitted;
    }
    if (now + waitMs > until) return Promise.reject(tooLate());
    const turn = this.enqueue(until);
    this.scheduleWake(now, waitMs);
    return turn;
  }

  private enqueue(until: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ until, resolve, reject });
    });
  }

  private scheduleWake(now: number, waitMs: number): void {
    this.wakeAt = now + waitMs;
    void this.sleep(waitMs).then(this.wake, this.wake);
  }

  private admitWaiters(): void {
    this.wakeAt = undefined;
    const now = this.now();
    for (let head = this.waiters[0]; head !== undefined; head = this.waiters[0]) {
      const waitMs = this.waitMs(now);
      if (waitMs <= 0) {
        this.take(now);
        this.waiters.shift();
        head.resolve();
        continue;
      }
      // Every waiter's slot comes at or after the head's: refuse now whoever would run out of time first, so each
      // wake-up comes no later than the `until` of anyone still waiting.
      const slotAt = now + waitMs;
      let kept = 0;
      for (const waiter of this.waiters) {
        if (waiter.until < slotAt) waiter.reject(tooLate());
        else this.waiters[kept++] = waiter;
      }
      this.waiters.length = kept;
      if (kept > 0) this.scheduleWake(now, waitMs);
      return;
    }
  }

  /**
   * Counts requests another holder of the credential's budget made (lib/personio/budget.ts): their start times (epoch
   * ms) take room in every window as this limiter's own would. Called before the first request; starts that have left
   * a window are forgotten as usual.
   */
  seed(starts: readonly number[]): void {
    const sorted = [...starts].filter(Number.isFinite).sort((a, b) => a - b);
    for (const w of this.windows) {
      const merged = [...w.starts, ...sorted].sort((a, b) => a - b);
      w.starts.length = 0;
      w.starts.push(...merged);
    }
  }

  /** Start times of the requests admitted within the longest window (margin included): what the next holder seeds. */
  recentStarts(): number[] {
    const now = this.now();
    let longest: { ms: number; starts: number[] } | undefined;
    for (const w of this.windows) if (!longest || w.ms > longest.ms) longest = w;
    return longest ? longest.starts.filter((start) => start > now - longest.ms) : [];
  }

  /** How long until every window has room (0 = now); forgets starts that have left their window. */
  private waitMs(now: number): number {
    let waitMs = 0;
    for (const w of this.windows) {
      while (w.starts.length > 0 && (w.starts[0] as number) <= now - w.ms) w.starts.shift();
      if (w.starts.length >= w.limit) waitMs = Math.max(waitMs, (w.starts[0] as number) + w.ms - now);
    }
    return waitMs;
  }

  private take(now: number): void {
    for (const w of this.windows) w.starts.push(now);
  }
}

function tooLate(): PersonioError {
  return new PersonioError('rate_limited', "The next free request slot under Personio's rate limit comes after the time budget ends.");
}
