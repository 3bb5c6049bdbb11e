import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SimKnobs, SimStats } from '../local/personio-sim/index.js';

/**
 * The simulator in its own process, so the benchmark's CPU and memory figures are the client's
 * alone; controlled over its /__sim endpoints.
 */
export interface SimProcess {
  url: string;
  knobs(k: Partial<SimKnobs>): Promise<void>;
  reset(): Promise<void>;
  stats(): Promise<SimStats>;
  stop(): Promise<void>;
}

const cli = fileURLToPath(new URL('../local/personio-sim/cli.ts', import.meta.url));

export async function startSimProcess(args: { employees: number; latencyMs?: number; extraAttributes?: number }): Promise<SimProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      cli,
      '--port',
      '0',
      '--employees',
      String(args.employees),
      '--latency-ms',
      String(args.latencyMs ?? 0),
      '--extra-attributes',
      String(args.extraAttributes ?? 0),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('the simulator did not start within 60 s')), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(buffer);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the simulator exited with ${code}`)));
  });
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/__sim/${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!response.ok) throw new Error(`simulator ${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<unknown>;
  };
  return {
    url,
    knobs: async (k) => void (await control('POST', 'knobs', k)),
    reset: async () => {
      await control('POST', 'reset');
      await control('POST', 'reset-rate-limits');
    },
    stats: async () => (await control('GET', 'stats')) as SimStats,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
