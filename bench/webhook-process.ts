import { measureWebhooks } from './webhook-bench.js';

/**
 * Child-process entry for the webhooks section: the handlers read their configuration once, at module load, so the
 * local environment this section starts must be the first the process loads them in (the worker section, in the bench's
 * own process, loaded them against its stack). Progress goes to stderr; the figures are the last stdout line.
 */
const [employees, changes, ratePerSecond] = process.argv.slice(2).map(Number);
if (!employees || !changes || !ratePerSecond) throw new Error('usage: webhook-process.ts <employees> <changes> <changes per second>');
const figures = await measureWebhooks({ employees, changes, ratePerSecond, log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify(figures)}\n`);
