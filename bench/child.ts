import { spawn } from 'node:child_process';
import { basename } from 'node:path';

/**
 * Runs a bench entry in a fresh Node process under tsx (so its memory is its own) and returns the JSON of its
 * last stdout line. `env` replaces the child's environment; without it the child inherits this one.
 */
export function runTsxChild<T>(entry: string, args: readonly string[] = [], env?: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...(env !== undefined && { env }) });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`${basename(entry, '.ts')} exited with ${code}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as T);
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** A child entry's result line: the figures and the process's peak RSS (MB), for runTsxChild to read. */
export function printWithPeakRss(result: object): void {
  process.stdout.write(`${JSON.stringify({ ...result, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
}
