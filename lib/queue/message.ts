import * as z from 'zod';

/** One SQS message of an import: a slice of a run's employees, as projected from Personio. */
export const importMessageSchema = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  runId: z.string().min(1),
  /** Position of the message within its run; with runId it makes processing idempotent. */
  seq: z.number().int().nonnegative(),
  /** When the fetch read these pages; an older message never overwrites data fetched later. */
  fetchedAt: z.iso.datetime(),
  /**
   * Set by delta runs: an employee read with unchanged content still moves its user's syncedAt up to fetchedAt, so a
   * held full run approved later does not deactivate someone this read just saw in Personio. Full runs never set it:
   * their unchanged re-imports write nothing.
   */
  touch: z.literal(true).optional(),
  employees: z.array(z.record(z.string(), z.object({ value: z.unknown(), type: z.string().optional(), universal_id: z.string().optional() }))),
});

export type ImportMessage = z.infer<typeof importMessageSchema>;

/** SQS allows 256 KiB per message; stay well under it so attributes and growth never tip a message over. */
export const MESSAGE_BUDGET_BYTES = 128 * 1024;
/** SendMessageBatch: at most 10 entries and 1 MiB in total. */
export const BATCH_MAX_ENTRIES = 10;
export const BATCH_MAX_BYTES = 1024 * 1024 - 16 * 1024;
