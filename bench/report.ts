/** One line of the bench's closing table: what was measured, its value, the target and whether it is met. */
export interface ReportRow {
  measure: string;
  value: string;
  target: string;
  /** null: a figure without a target (shown for context). */
  pass: boolean | null;
}

/**
 * The targets the bench checks. Fetch: issue 3; worker: issue 4; bundles: issue 13 (the sweeper's is the bench's own:
 * it holds a subset of the worker's code, so the worker's bound). Init has no target: import() times on this shared
 * 2-core machine swing by tens of per cent between runs; the bench quotes medians to compare before and after.
 * Webhooks: issue 15 (p99 from delivery to the user written and to its change event published, Personio requests per
 * changed employee, no 429). The webhook, refresh and publisher bundles' bounds are the bench's own: each holds a subset
 * of the fetch's or the worker's code.
 */
export const targets = {
  fetchOverFloor: 1.25,
  sequentialOverOurs: 3,
  fetchRssLargeOverSmall: 1.5,
  firstImportWritesPerEmployee: 1.1,
  reimportWrites: 0,
  workerPeakRssMb: 256,
  mappingOverJsonParse: 0.5,
  bundleKb: { connect: 650, fetch: 600, worker: 520, sweeper: 520, webhook: 520, refresh: 600, publisher: 520 },
  webhookP99Ms: 10_000,
  webhookRequestsPerChange: 1.2,
  webhook429: 0,
} as const;

const mark = (pass: boolean | null) => (pass === null ? 'info' : pass ? 'pass' : 'FAIL');

/** The rows as a Markdown table, columns padded so it also reads in a terminal. */
export function markdownTable(rows: ReportRow[]): string[] {
  const cells = [['measure', 'value', 'target', 'result'], ...rows.map((r) => [r.measure, r.value, r.target, mark(r.pass)])];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => [...(c[i] ?? '')].length)));
  const line = (c: string[]) => `| ${c.map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)).join(' | ')} |`;
  const [header, ...body] = cells;
  return [line(header ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

export function summary(rows: ReportRow[]): string {
  const checked = rows.filter((r) => r.pass !== null);
  const failed = checked.filter((r) => r.pass === false);
  return `${checked.length - failed.length} of ${checked.length} targets met${failed.length ? `; not met: ${failed.map((r) => r.measure).join('; ')}` : ''}.`;
}
