/**
 * Sliding-window counters. Personio publishes limits as "N per minute / per second" without saying how they are
 * windowed; a sliding window is the strictest reading, so a client that stays within it stays within any fixed window.
 *
 * Only admitted requests are recorded: a 429 costs no budget. The caller checks every applicable window first
 * (`hasRoom`) and records in all of them only when the request is let through, so one limiter refusing a request does
 * not eat into the others.
 */
export class SlidingWindow {
  private readonly hits = new Map<string, { times: number[]; head: number }>();

  constructor(private readonly windowMs: number) {}

  hasRoom(key: string, limit: number, now: number): boolean {
    return this.count(key, now) < limit;
  }

  record(key: string, now: number): void {
    let entry = this.hits.get(key);
    if (!entry) {
      entry = { times: [], head: 0 };
      this.hits.set(key, entry);
    }
    entry.times.push(now);
  }

  count(key: string, now: number): number {
    const entry = this.hits.get(key);
    if (!entry) return 0;
    const { times } = entry;
    let head = entry.head;
    while (head < times.length && (times[head] ?? 0) <= now - this.windowMs) head += 1;
    // Compact now and then instead of shifting on every expiry.
    if (head > 1024 && head * 2 > times.length) {
      entry.times = times.slice(head);
      head = 0;
    }
    entry.head = head;
    return entry.times.length - head;
  }

  clear(): void {
    this.hits.clear();
  }
}

/** Personio's /v1/auth rule: N per minute per IP, and a breach starts a cool-down in which every call is refused. */
export class CooldownLimiter {
  private readonly window = new SlidingWindow(60_000);
  private readonly cooldownUntil = new Map<string, number>();

  /** True when the call may proceed; records it. False starts (or continues) the cool-down. */
  admit(key: string, perMinute: number, cooldownSeconds: number, now: number): boolean {
    const until = this.cooldownUntil.get(key);
    if (until !== undefined && now < until) return false;
    if (!this.window.hasRoom(key, perMinute, now)) {
      this.cooldownUntil.set(key, now + cooldownSeconds * 1000);
      return false;
    }
    this.window.record(key, now);
    return true;
  }

  clear(): void {
    this.window.clear();
    this.cooldownUntil.clear();
  }
}
