import type { FaultResult } from './harness.js';

/** The fault table a suite prints when it ends: fault, outcome, users lost, duplicates, time, what the simulator saw. */
export function printTable(title: string, results: FaultResult[]): void {
  const rows = results.map((r) => [
    r.fault,
    r.outcome,
    String(r.usersLost),
    String(r.duplicates),
    `${r.seconds.toFixed(1)} s`,
    r.simulator ? `${r.simulator.requests} req (${r.simulator.authCalls} auth), ${r.simulator.status5xx}×5xx, ${r.simulator.status429}×429` : '',
    r.note,
  ]);
  const head = ['fault', 'outcome', 'users lost', 'duplicates', 'time', 'simulator saw', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const text = [`\n${title}`, line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), ''].join('\n');
  console.log(text);
}
