import FakeTimers from '@sinonjs/fake-timers';

/**
 * The simulation's clock: `Date` (and `Date.now()`) of the whole process, handlers included, reads real time plus an
 * offset that only grows, so leases, visibility timeouts, TTLs and approvals a month later are one `jump()` away
 * while real timers, sockets and performance.now() keep working untouched.
 *
 * fake-timers fakes only `Date` (its `Date` mirrors the native one: `instanceof`, parsing, `Intl` all behave); its
 * `clock.now` is made a getter over real time, so the simulated time runs at real speed with millisecond precision
 * (`shouldAdvanceTime` ticks in fixed steps, which lag under load and give equal timestamps to calls 1 ms apart).
 */
export class SimClock {
  private offsetMs = 0;
  private readonly realNow: () => number;
  private readonly clock: FakeTimers.InstalledClock;
  private readonly listeners: ((now: number) => void | Promise<void>)[] = [];

  private constructor() {
    const RealDate = Date;
    this.realNow = () => RealDate.now();
    this.clock = FakeTimers.install({ toFake: ['Date'] });
    Object.defineProperty(this.clock, 'now', {
      configurable: true,
      get: () => this.realNow() + this.offsetMs,
      set: (value: number) => {
        // Only fake-timers itself sets it (tick/setSystemTime are never called here); never go back in time.
        this.offsetMs = Math.max(this.offsetMs, value - this.realNow());
      },
    });
  }

  static install(): SimClock {
    return new SimClock();
  }

  now(): number {
    return this.realNow() + this.offsetMs;
  }

  /** Total simulated time added to real time so far. */
  get skewMs(): number {
    return this.offsetMs;
  }

  /** Called after every jump (TTL expiry, Lambda timeouts). */
  onJump(listener: (now: number) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  async jump(ms: number): Promise<void> {
    if (ms <= 0) return;
    this.offsetMs += ms;
    for (const listener of this.listeners) await listener(this.now());
  }

  /** Jumps to `at` if it is in the future. */
  async jumpTo(at: number): Promise<void> {
    await this.jump(at - this.now());
  }

  uninstall(): void {
    this.clock.uninstall();
  }
}
