/**
 * The least time Personio's limits allow for an import of `pages` pages: page 0 first (it tells the
 * total), then every other page as early as the sliding windows (15/s, 300/min) admit it, each
 * taking `latencyMs`. This is the bound no client can beat, whatever its concurrency.
 */
export function rateLimitFloorMs(
  pages: number,
  latencyMs: number,
  windows = [
    { limit: 15, ms: 1_000 },
    { limit: 300, ms: 60_000 },
  ],
): number {
  if (pages <= 0) return 0;
  const starts: number[] = [0];
  let end = latencyMs;
  for (let k = 1; k < pages; k++) {
    let t = latencyMs;
    for (const w of windows) {
      // The k-th request may start once the request `limit` places before it has left the window.
      const blocker = starts[k - w.limit];
      if (blocker !== undefined) t = Math.max(t, blocker + w.ms);
    }
    t = Math.max(t, starts[k - 1] ?? 0);
    starts.push(t);
    end = Math.max(end, t + latencyMs);
  }
  return end;
}
