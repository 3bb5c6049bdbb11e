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
  webhooksDeniedClientIds: [],
  ackTimeoutMs: 3000,
  // Personio: up to 6 retry attempts "with increasing delays" within 3 days; the exact schedule is not published.
  webhookRetryDelaysMs: [60_000, 300_000, 1_800_000, 7_200_000, 43_200_000, 172_800_000],
  duplicateDeliveries: 0,
  shuffleDeliveries: false,
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
    webhooksDeniedClientIds: z.array(z.string().min(1)),
    ackTimeoutMs: z.number().int().min(1).max(60_000),
    // Capped at a bit over 3 days: Node timers cannot wait longer than 2^31-1 ms anyway.
    webhookRetryDelaysMs: z.array(z.number().int().min(0).max(2_147_483_647)).max(20),
    duplicateDeliveries: share,
    shuffleDeliveries: z.boolean(),
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
  merged.webhooksDeniedClientIds = [...merged.webhooksDeniedClientIds];
  merged.webhookRetryDelaysMs = [...merged.webhookRetryDelaysMs];
  return merged;
}

export class KnobsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnobsError';
  }
}
