import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureOurFetch, measureSequentialPager, type FetchMeasurement } from './fetch-bench.js';
import { rateLimitFloorMs } from './floor.js';
import { startSimProcess } from './sim-process.js';
import { measureMapping, measureWorker } from './worker-bench.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { values } = parseArgs({
  options: {
    json: { type: 'string' },
    employees: { type: 'string', default: '10000' },
    'latency-ms': { type: 'string', default: '300' },
    'memory-sizes': { type: 'string', default: '1000,50000' },
    'worker-employees': { type: 'string', default: '10000' },
  },
  strict: true,
});
const employees = Number(values.employees);
const latencyMs = Number(values['latency-ms']);
const memorySizes = values['memory-sizes'].split(',').filter(Boolean).map(Number);
const workerEmployees = Number(values['worker-employees']);
if (!Number.isInteger(employees) || employees < 1 || !Number.isInteger(latencyMs) || memorySizes.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: npm run bench -- [--employees N] [--latency-ms L] [--memory-sizes 1000,50000] [--worker-employees N] [--json FILE]');
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function fetchSection() {
  log(`fetch: simulator with ${employees.toLocaleString('en-US')} employees, ${latencyMs} ms per request, Personio's limits (15/s, 300/min)`);
  const sim = await startSimProcess({ employees, latencyMs });
  try {
    await sim.knobs({ latencyJitter: false });
    await sim.reset();
    const ours = await measureOurFetch(sim.url);
    const oursStats = await sim.stats();
    log(`  ours done in ${(ours.wallMs / 1000).toFixed(2)} s`);
    await sim.reset();
    const sequential = await measureSequentialPager(sim.url);
    const sequentialStats = await sim.stats();
    log(`  sequential pager done in ${(sequential.wallMs / 1000).toFixed(2)} s`);
    const pages = Math.ceil(employees / 100);
    const floorMs = rateLimitFloorMs(pages, latencyMs);
    return { ours, oursStats, sequential, sequentialStats, floorMs, pages };
  } finally {
    await sim.stop();
  }
}

async function memoryRun(size: number): Promise<FetchMeasurement & { peakRssMb: number }> {
  const sim = await startSimProcess({ employees: size, latencyMs: 0 });
  try {
    // Memory does not depend on pacing: lift the limits so a 50,000-employee tenant takes seconds.
    await sim.knobs({ employeesPerSecond: 100_000, employeesPerMinute: 1_000_000, ipPerMinute: 1_000_000 });
    const entry = fileURLToPath(new URL('./fetch-memory.ts', import.meta.url));
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry, sim.url], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`fetch-memory exited with ${code}`))));
    });
    return JSON.parse(output.trim().split('\n').pop() ?? '{}');
  } finally {
    await sim.stop();
  }
}

const fetchFigures = await fetchSection();
const memory: Record<number, FetchMeasurement & { peakRssMb: number }> = {};
for (const size of memorySizes) {
  log(`memory: fetch of ${size.toLocaleString('en-US')} employees in a fresh process`);
  memory[size] = await memoryRun(size);
}

log(`worker: ${workerEmployees.toLocaleString('en-US')} employees on DynamoDB Local, first import then an unchanged re-import`);
const workerSim = await startSimProcess({ employees: workerEmployees, latencyMs: 0 });
let worker: Awaited<ReturnType<typeof measureWorker>>;
let mappingCost: Awaited<ReturnType<typeof measureMapping>>;
try {
  await workerSim.knobs({ employeesPerSecond: 100_000, employeesPerMinute: 1_000_000, ipPerMinute: 1_000_000 });
  worker = await measureWorker(workerSim, workerEmployees, (line) => log(line));
  mappingCost = await measureMapping(workerSim);
} finally {
  await workerSim.stop();
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
const rows: [string, string, string][] = [
  ['fetch wall time (ours)', `${(fetchFigures.ours.wallMs / 1000).toFixed(2)} s`, ''],
  ['rate-limit floor', `${(fetchFigures.floorMs / 1000).toFixed(2)} s`, ''],
  ['ours / floor', ratio(fetchFigures.ours.wallMs, fetchFigures.floorMs).toFixed(2), '≤ 1.25'],
  ['sequential pager wall time', `${(fetchFigures.sequential.wallMs / 1000).toFixed(2)} s`, ''],
  ['sequential / ours', `${ratio(fetchFigures.sequential.wallMs, fetchFigures.ours.wallMs).toFixed(2)}×`, '≥ 3×'],
  ['client CPU (ours / sequential)', `${fetchFigures.ours.cpuMs.toFixed(0)} ms / ${fetchFigures.sequential.cpuMs.toFixed(0)} ms`, ''],
  ['requests (ours / sequential)', `${fetchFigures.oursStats.requests} / ${fetchFigures.sequentialStats.requests}`, ''],
  ['429s received (ours / sequential)', `${fetchFigures.oursStats.rateLimited} / ${fetchFigures.sequentialStats.rateLimited}`, '0 from our pacing'],
  ['employees (ours / sequential)', `${fetchFigures.ours.employees} / ${fetchFigures.sequential.employees}`, `${employees}`],
  ...memorySizes.map((size): [string, string, string] => [`fetch peak RSS, ${size.toLocaleString('en-US')} employees`, `${memory[size]!.peakRssMb.toFixed(0)} MB`, '']),
];
if (memorySizes.length >= 2) {
  const small = memory[Math.min(...memorySizes)]!;
  const large = memory[Math.max(...memorySizes)]!;
  rows.push(['peak RSS, largest / smallest tenant', ratio(large.peakRssMb, small.peakRssMb).toFixed(2), '≤ 1.5']);
}
rows.push(
  ['worker: users created / employees', `${worker.firstImport.created} / ${worker.firstImport.employeesFetched}`, ''],
  ['worker: write requests, first import', `${worker.firstImport.dynamoWriteRequests} (${ratio(worker.firstImport.dynamoWriteRequests, worker.firstImport.employeesFetched).toFixed(2)}× employees)`, '≤ 1.1× employees'],
  ['worker: write requests, unchanged re-import', `${worker.reimport.dynamoWriteRequests}`, '0'],
  ['worker: first import, wall time', `${(worker.firstImportWorkerMs / 1000).toFixed(1)} s`, ''],
  ['worker: peak RSS', `${worker.peakRssMb.toFixed(0)} MB`, '< 256 MB'],
  ['mapping per employee / JSON.parse', `${mappingCost.mappingUsPerEmployee.toFixed(2)} µs / ${mappingCost.jsonParseUsPerEmployee.toFixed(2)} µs`, 'mapping ≤ 0.5 × parse'],
);
const width = Math.max(...rows.map((r) => r[0].length));
log('');
log(`${'measure'.padEnd(width)}  ${'value'.padEnd(22)}  target`);
for (const [name, value, target] of rows) log(`${name.padEnd(width)}  ${value.padEnd(22)}  ${target}`);

if (values.json) {
  const largest = memorySizes.length ? memory[Math.max(...memorySizes)] : undefined;
  const figures = {
    fetch: {
      employees,
      wallMs: Math.round(fetchFigures.ours.wallMs),
      floorMs: fetchFigures.floorMs,
      sequentialWallMs: Math.round(fetchFigures.sequential.wallMs),
      requests: fetchFigures.oursStats.requests,
      rateLimited: fetchFigures.oursStats.rateLimited,
      peakRssMb: largest ? Math.round(largest.peakRssMb) : null,
      cpuMs: Math.round(fetchFigures.ours.cpuMs),
      sequentialCpuMs: Math.round(fetchFigures.sequential.cpuMs),
      peakRssMbBySize: Object.fromEntries(Object.entries(memory).map(([k, v]) => [k, Math.round(v.peakRssMb)])),
    },
    worker: {
      employees: worker.employees,
      firstImportWriteRequests: worker.firstImport.dynamoWriteRequests,
      reimportWriteRequests: worker.reimport.dynamoWriteRequests,
      mappingUsPerEmployee: Number(mappingCost.mappingUsPerEmployee.toFixed(3)),
      jsonParseUsPerEmployee: Number(mappingCost.jsonParseUsPerEmployee.toFixed(3)),
      peakRssMb: Math.round(worker.peakRssMb),
      firstImportWorkerMs: Math.round(worker.firstImportWorkerMs),
      usersCreated: worker.firstImport.created,
    },
  };
  await writeFile(values.json, `${JSON.stringify(figures, null, 2)}\n`);
  log(`\nwrote ${values.json}`);
}
