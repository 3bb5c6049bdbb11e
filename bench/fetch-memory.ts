import { printWithPeakRss } from './child.js';
import { measureOurFetch } from './fetch-bench.js';

/**
 * Child-process entry: one fetch against the simulator at argv[2], then the process's peak RSS, so
 * each tenant size is measured in a fresh process.
 */
const url = process.argv[2];
if (!url) throw new Error('usage: fetch-memory.ts <simulator url>');
const result = await measureOurFetch(url, { unlimited: true });
printWithPeakRss(result);
