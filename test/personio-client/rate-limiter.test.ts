import { describe, expect, it } from 'vitest';
import { PersonioError } from '../../lib/personio/errors.js';
import { RateLimiter } from '../../lib/personio/rate-limiter.js';

/** The limiter on a clock the test moves: which caller gets a slot when, and who is refused when. */

class ManualClock {
  private t = 0;
  private readonly timers: { at: number; resolve: () => void }[] = [];
  /** When each sleep the limiter asked for would end. */
  readonly wakeUps: number[] = [];

  readonly now = (): number => this.t;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.wakeUps.push(this.t + ms);
      this.timers.push({ at: this.t + ms, resolve });
    });

  /** Moves the clock, fires the sleeps that are due, and lets every callback they start run. */
  async advanceTo(t: number): Promise<void> {
    this.t = t;
    for (const timer of this.timers.filter((timer) => timer.at <= t)) {
      this.timers.splice(this.timers.indexOf(timer), 1);
      timer.resolve();
    }
    await settle();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Two requests a second and no margin, so slots fall on whole seconds. */
function twoPerSecond(clock: ManualClock): RateLimiter {
  return new RateLimiter({ windows: [{ limit: 2, ms: 1_000 }], marginMs: 0, now: clock.now, sleep: clock.sleep });
}

interface Outcome {
  name: string;
  at: number;
  refused?: string;
}

/** Starts acquire() for `name` and records when it was granted or refused, by the test's clock. */
function track(limiter: RateLimiter, clock: ManualClock, outcomes: Outcome[], name: string, until?: number): void {
  limiter.acquire(until).then(
    () => outcomes.push({ name, at: clock.now() }),
    (error: unknown) => outcomes.push({ name, at: clock.now(), refused: error instanceof PersonioError ? error.code : String(error) }),
  );
}

describe('RateLimiter', () => {
  it('without a bound, admits callers in arrival order at the pace of its windows', async () => {
    // Prepare
    const clock = new ManualClock();
    const limiter = twoPerSecond(clock);
    const outcomes: Outcome[] = [];

    // Act
    for (const name of ['a', 'b', 'c', 'd', 'e']) track(limiter, clock, outcomes, name);
    await settle();
    await clock.advanceTo(1_000);
    await clock.advanceTo(2_000);

    // Assess
    expect(outcomes).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 0 },
      { name: 'c', at: 1_000 },
      { name: 'd', at: 1_000 },
      { name: 'e', at: 2_000 },
    ]);
  });

  it('refuses at once with rate_limited when the slot would come after `until`, takes no slot, and holds up nobody behind', async () => {
    // Prepare: the first second's two slots are taken
    const clock = new ManualClock();
    const limiter = twoPerSecond(clock);
    const outcomes: Outcome[] = [];
    track(limiter, clock, outcomes, 'a');
    track(limiter, clock, outcomes, 'b');

    // Act: c may wait until 500 ms only; d and e wait as long as it takes
    track(limiter, clock, outcomes, 'c', 500);
    track(limiter, clock, outcomes, 'd');
    track(limiter, clock, outcomes, 'e');
    await settle();
    const atStart = [...outcomes];
    await clock.advanceTo(1_000);

    // Assess: c is refused before the clock moves; d and e share the next second's two slots, so c took none
    expect(atStart).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 0 },
      { name: 'c', at: 0, refused: 'rate_limited' },
    ]);
    expect(outcomes.slice(3)).toEqual([
      { name: 'd', at: 1_000 },
      { name: 'e', at: 1_000 },
    ]);
  });

  it('refuses a newcomer at once when the queue ahead of it already ends after its `until`', async () => {
    // Prepare: a and b take this second, c waits for the next
    const clock = new ManualClock();
    const limiter = twoPerSecond(clock);
    const outcomes: Outcome[] = [];
    for (const name of ['a', 'b', 'c']) track(limiter, clock, outcomes, name);
    await settle();

    // Act
    track(limiter, clock, outcomes, 'd', 999);
    await settle();

    // Assess
    expect(outcomes).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 0 },
      { name: 'd', at: 0, refused: 'rate_limited' },
    ]);
    expect(clock.wakeUps).toEqual([1_000]);
  });

  it('refuses a queued caller as soon as its slot is known to come too late, and never sleeps past its `until`', async () => {
    // Prepare: a and b take this second; c and d get the next; e's slot would be at 2 s
    const clock = new ManualClock();
    const limiter = twoPerSecond(clock);
    const outcomes: Outcome[] = [];
    track(limiter, clock, outcomes, 'a');
    track(limiter, clock, outcomes, 'b');
    track(limiter, clock, outcomes, 'c');
    track(limiter, clock, outcomes, 'd', 1_500);
    track(limiter, clock, outcomes, 'e', 1_500);
    await settle();

    // Act
    await clock.advanceTo(1_000);
    track(limiter, clock, outcomes, 'f');
    await settle();
    await clock.advanceTo(2_000);

    // Assess: while e waited, the limiter slept only until 1 s; the wake-up at 2 s is f's
    expect(outcomes).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 0 },
      { name: 'c', at: 1_000 },
      { name: 'd', at: 1_000 },
      { name: 'e', at: 1_000, refused: 'rate_limited' },
      { name: 'f', at: 2_000 },
    ]);
    expect(clock.wakeUps).toEqual([1_000, 2_000]);
  });

  it('grants a free slot even when `until` has passed: the bound is on waiting', async () => {
    // Prepare
    const clock = new ManualClock();
    const limiter = twoPerSecond(clock);
    const outcomes: Outcome[] = [];

    // Act
    track(limiter, clock, outcomes, 'a', -1);
    track(limiter, clock, outcomes, 'b', -1);
    track(limiter, clock, outcomes, 'c', -1);
    await settle();

    // Assess
    expect(outcomes).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 0 },
      { name: 'c', at: 0, refused: 'rate_limited' },
    ]);
    expect(clock.wakeUps).toEqual([]);
  });

  it('says in its refusal that the slot comes after the time budget, as a retryable PersonioError', async () => {
    // Prepare
    const clock = new ManualClock();
    const limiter = new RateLimiter({ windows: [{ limit: 1, ms: 60_000 }], now: clock.now, sleep: clock.sleep });
    await limiter.acquire();

    // Act
    const refusal = await limiter.acquire(30_000).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(refusal).toBeInstanceOf(PersonioError);
    expect((refusal as PersonioError).code).toBe('rate_limited');
    expect((refusal as PersonioError).retryable).toBe(true);
    expect((refusal as PersonioError).message).toMatch(/after the time budget/);
  });
});
