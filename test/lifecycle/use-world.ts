import { afterAll, beforeAll } from 'vitest';
import { World } from './world.js';

/** One world for a test file: started before its tests, stopped after them (kept apart from world.ts, which the CLI loads without vitest). */
export function useWorld(): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await World.start();
  }, 120_000);
  afterAll(async () => {
    await world?.stop();
  });
  return () => {
    if (!world) throw new Error('the world is used before it started');
    return world;
  };
}
