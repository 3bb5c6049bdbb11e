import * as z from 'zod';
import type { SimKnobs } from './types.js';

export const defaultKnobs: SimKnobs = {
  latencyMs: 0,
  latencyJitter: true,
  errorRate: 0,
  retryAfterSeconds: null,
  malformedRate: 0,
  tokenTtlSeconds: 86_400,
  // Personio's published limits (NOTES.md §3.1).
  employeesPerMinute: 300,
  employeesPerSecond: 15,
  authPerMinute: 60,
  authCooldownSeconds: 60,
  ipPerMinute: 2000,
  readableAttributes: null,
  strictSpec: false,
  hiddenEmployeeIds: [],
};

const share = z.number().min(0).max(1);
const count = z.number().int().min(0);

/** Strict so a misspelt knob fails loudly instead of silently doing nothing. */
const knobsPatchSchema = z
  .strictObject({
    latencyMs: z.number().min(0).max(60_000),
    latencyJitter: z.boolean(),
    errorRate: share,
    retryAfterSeconds: count.nullable(),
    malformedRate: share,
    tokenTtlSeconds: count,
    employeesPerMinute: count,
    employeesPerSecond: count,
    authPerMinute: count,
    authCooldownSeconds: count,
    ipPerMinute: count,
    readableAttributes: z.array(z.string().min(1)).nullable(),
    strictSpec: z.boolean(),
    hiddenEmployeeIds: z.array(z.number().int().positive()),
  })
  .partial();

/** Validates a patch (throws a readable error) and returns the merged knobs. */
export function mergeKnobs(current: SimKnobs, patch: unknown): SimKnobs {
  const parsed = knobsPatchSchema.safeParse(patch);
  if (!parsed.success) throw new KnobsError(z.prettifyError(parsed.error));
  const merged: SimKnobs = { ...current };
  for (const [key, value] of Object.entries(parsed.data) as [keyof SimKnobs, unknown][]) {
    // Partial<> allows explicit undefined; treat it as "leave unchanged".
    if (value !== undefined) Object.assign(merged, { [key]: value });
  }
  if (merged.readableAttributes) merged.readableAttributes = [...merged.readableAttributes];
  merged.hiddenEmployeeIds = [...merged.hiddenEmployeeIds];
  return merged;
}

export class KnobsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnobsError';
  }
}
