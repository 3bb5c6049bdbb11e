import { describe, expect, it } from 'vitest';
import { forEachLimited } from '../../lib/util/concurrency.js';

/** A promise with its resolve and reject at hand. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('forEachLimited', () => {
  it('runs every item with at most `limit` in flight', async () => {
    // Prepare
    const items = Array.from({ length: 20 }, (_, i) => i);
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];

    // Act
    await forEachLimited(items, 3, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await settle();
      inFlight--;
      done.push(item);
    });

    // Assess
    expect(most).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual(items);
  });

  it('starts no further item once one failed', async () => {
    // Prepare
    const items = Array.from({ length: 10 }, (_, i) => i);
    const gates = items.map(() => deferred());
    const started: number[] = [];
    const call = forEachLimited(items, 2, async (item) => {
      started.push(item);
      await gates[item]?.promise;
    });
    const outcome = call.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await settle();

    // Act
    gates[0]?.reject(new Error('item 0 failed'));
    await settle();
    gates[1]?.resolve();
    await settle();

    // Assess
    expect(await outcome).toEqual(new Error('item 0 failed'));
    expect(started).toEqual([0, 1]);
  });

  it('settles only after the items in flight finished, and rejects with the first failure', async () => {
    // Prepare
    const items = [0, 1, 2];
    const gates = items.map(() => deferred());
    const finished: number[] = [];
    let settledWhileInFlight: boolean | undefined;
    const call = forEachLimited(items, 3, async (item) => {
      try {
        await gates[item]?.promise;
      } finally {
        finished.push(item);
      }
    });
    const outcome = call.then(
      () => 'resolved',
      (error: unknown) => {
        settledWhileInFlight = finished.length < items.length;
        return error;
      },
    );
    await settle();

    // Act
    gates[1]?.reject(new Error('item 1 failed'));
    await settle();
    const settledEarly = settledWhileInFlight !== undefined;
    gates[2]?.reject(new Error('item 2 failed'));
    await settle();
    gates[0]?.resolve();

    // Assess
    expect(await outcome).toEqual(new Error('item 1 failed'));
    expect(settledEarly).toBe(false);
    expect(settledWhileInFlight).toBe(false);
    expect(finished.sort()).toEqual([0, 1, 2]);
  });
});
