import { z } from 'zod';

/**
 * The shape of `newRunId` (lib/runs/run.ts): a UTC stamp (milliseconds since they were added; older runs
 * have none) and 8 hex digits, e.g. 20250301T120000.123Z-1a2b3c4d.
 */
export const runIdSchema = z.string().regex(/^\d{8}T\d{6}(?:\.\d{3})?Z-[0-9a-f]{8}$/, 'a run id such as 20250301T120000.123Z-1a2b3c4d');
