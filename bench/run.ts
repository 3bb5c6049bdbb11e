import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleIsClean, describeFindings, MAX_MODULE_KB } from './bundle-guard.js';
import { measureFunctions } from './bundles.js';
import { runTsxChild } from './child.js';
import { measureOurFetch, measureSequentialPager, type FetchMeasurement } from './fetch-bench.js';
import { rateLimitFloorMs } from './floor.js';
import { markdownTable, summary, targets, type ReportRow } from './report.js';
import { startSimProcess } from './sim-process.js';
import type { DynamoRequestCounts } from './dynamo-requests.js';
import { measureMapping, measureWorker } from './worker-bench.js';
import type { WebhookFigures } from './webhook-bench.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { values } = parseArgs({
  options: {
    json: { type: 'string' },
    employees: { type: 'string', default: '10000' },
    'latency-ms': { type: 'string', default: '300' },
    'memory-sizes': { type: 'string', default: '1000,50000' },
    'worker-employees': { type: 'string', default: '10000' },
    'init-runs': { type: 'string', default: '11' },
    'webhook-employees': { type: 'string', default: '10000' },
    'webhook-changes': { type: 'string', default: '500' },
    'webhook-rate': { type: 'string', default: '4' },
    only: { type: 'string', default: 'bundles,fetch,memory,worker,webhooks' },
  },
  strict: true,
});
const employees = Number(values.employees);
const latencyMs = Number(values['latency-ms']);
const memorySizes = values['memory-sizes'].split(',').filter(Boolean).map(Number);
const workerEmployees = Number(values['worker-employees']);
const initRuns = Number(values['init-runs']);
const webhookEmployees = Number(values['webhook-employees']);
const webhookChanges = Number(values['webhook-changes']);
const webhookRate = Number(values['webhook-rate']);
const SECTIONS = ['bundles', 'fetch', 'memory', 'worker', 'webhooks'] as const;
type Section = (typeof SECTIONS)[number];
const only = values.only.split(',').filter(Boolean);
const runs = (section: Section) => only.includes(section);
const positive = (n: number) => Number.isInteger(n) && n >= 1;
if (
  !positive(employees) ||
  !Number.isInteger(latencyMs) ||
  latencyMs < 0 ||
  memorySizes.some((n) => !positive(n)) ||
  !positive(workerEmployees) ||
  !positive(initRuns) ||
  !positive(webhookEmployees) ||
  !positive(webhookChanges) ||
  !(webhookRate > 0) ||
  only.length === 0 ||
  only.some((s) => !(SECTIONS as readonly string[]).includes(s))
) {
  console.error(
    'usage: npm run bench -- [--employees N] [--latency-ms L] [--memory-sizes 1000,50000] [--worker-employees N] [--init-runs N] [--webhook-employees N] [--webhook-changes N] [--webhook-rate R] [--only bundles,fetch,memory,worker,webhooks] [--json FILE]',
  );
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${line}\n`);
/** Knobs that lift the simulator's rate limits, where pacing is not what is measured. */
const NO_LIMITS = { employeesPerSecond: 100_000, employeesPerMinute: 1_000_000, ipPerMinute: 1_000_000 };

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
    await sim.knobs(NO_LIMITS);
    return await runTsxChild(fileURLToPath(new URL('./fetch-memory.ts', import.meta.url)), [sim.url]);
  } finally {
    await sim.stop();
  }
}

async function workerSection() {
  log(`worker: ${workerEmployees.toLocaleString('en-US')} employees on DynamoDB Local, first import then an unchanged re-import`);
  const workerSim = await startSimProcess({ employees: workerEmployees, latencyMs: 0 });
  try {
    await workerSim.knobs(NO_LIMITS);
    const worker = await measureWorker(workerSim, workerEmployees, (line) => log(line));
    const mappingCost = await measureMapping(workerSim);
    return { worker, mappingCost };
  } finally {
    await workerSim.stop();
  }
}

const startedAt = new Date();
let functions: Awaited<ReturnType<typeof measureFunctions>> | undefined;
if (runs('bundles')) {
  log(`bundles: each function built as the synth builds it, import() timed in ${initRuns} fresh processes`);
  functions = await measureFunctions(initRuns, log);
}
const fetchFigures = runs('fetch') ? await fetchSection() : undefined;
const memory: Record<number, FetchMeasurement & { peakRssMb: number }> = {};
if (runs('memory')) {
  for (const size of memorySizes) {
    log(`memory: fetch of ${size.toLocaleString('en-US')} employees in a fresh process`);
    memory[size] = await memoryRun(size);
  }
}
const workerFigures = runs('worker') ? await workerSection() : undefined;
let webhookFigures: WebhookFigures | undefined;
if (runs('webhooks')) {
  log(
    `webhooks: ${webhookChanges.toLocaleString('en-US')} changes at ${webhookRate}/s to a ${webhookEmployees.toLocaleString('en-US')}-employee tenant, delivered by the simulator to the local route (Personio's limits)`,
  );
  webhookFigures = await runTsxChild<WebhookFigures>(fileURLToPath(new URL('./webhook-process.ts', import.meta.url)), [
    String(webhookEmployees),
    String(webhookChanges),
    String(webhookRate),
  ]);
}

const finishedAt = new Date();
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = (ms: number, digits = 2) => `${(ms / 1000).toFixed(digits)} s`;
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
const perSecond = (employeesDone: number, ms: number) => ratio(employeesDone * 1000, ms);

const rows: ReportRow[] = [];
if (fetchFigures) {
  const { ours, sequential, oursStats, sequentialStats, floorMs, pages } = fetchFigures;
  const overFloor = ratio(ours.wallMs, floorMs);
  const sequentialOverOurs = ratio(sequential.wallMs, ours.wallMs);
  rows.push(
    {
      measure: `fetch of ${int(employees)} employees vs rate-limit floor (${pages} pages)`,
      value: `${sec(ours.wallMs)} vs ${sec(floorMs)} = ${overFloor.toFixed(2)}×`,
      target: `≤ ${targets.fetchOverFloor}× floor`,
      pass: overFloor <= targets.fetchOverFloor,
    },
    {
      measure: 'sequential pager vs ours',
      value: `${sec(sequential.wallMs)} = ${sequentialOverOurs.toFixed(2)}× ours`,
      target: `≥ ${targets.sequentialOverOurs}× ours`,
      pass: sequentialOverOurs >= targets.sequentialOverOurs,
    },
    {
      measure: '429s received, ours (sequential)',
      value: `${oursStats.rateLimited} of ${int(oursStats.requests)} requests (${sequentialStats.rateLimited} of ${int(sequentialStats.requests)})`,
      target: '0 from our pacing',
      pass: oursStats.rateLimited === 0,
    },
    {
      measure: 'employees fetched, ours / sequential',
      value: `${int(ours.employees)} / ${int(sequential.employees)}`,
      target: `${int(employees)} each`,
      pass: ours.employees === employees && sequential.employees === employees,
    },
    {
      measure: 'fetch client CPU, ours / sequential',
      value: `${int(ours.cpuMs)} ms / ${int(sequential.cpuMs)} ms`,
      target: '–',
      pass: null,
    },
  );
}
const sizes = Object.keys(memory)
  .map(Number)
  .sort((a, b) => a - b);
const smallest = sizes[0];
const largest = sizes.at(-1);
if (smallest !== undefined && largest !== undefined && largest > smallest) {
  const small = memory[smallest]!.peakRssMb;
  const large = memory[largest]!.peakRssMb;
  const growth = ratio(large, small);
  rows.push({
    measure: `fetch peak RSS, ${int(smallest)} / ${int(largest)} employees`,
    value: `${int(small)} MB / ${int(large)} MB = ${growth.toFixed(2)}×`,
    target: `≤ ${targets.fetchRssLargeOverSmall}×`,
    pass: growth <= targets.fetchRssLargeOverSmall,
  });
} else {
  for (const size of sizes)
    rows.push({ measure: `fetch peak RSS, ${int(size)} employees`, value: `${int(memory[size]!.peakRssMb)} MB`, target: '– (needs two sizes)', pass: null });
}
/** Requests per employee of one import, 3 decimals (NaN when no employee was fetched). */
const requestsPerEmployee = (requests: DynamoRequestCounts, employeesFetched: number) => ratio(requests.total, employeesFetched);
const operationsText = (requests: DynamoRequestCounts) =>
  Object.entries(requests.byOperation)
    .map(([operation, n]) => `${operation} ${int(n)}`)
    .join(', ');
if (workerFigures) {
  const { worker, mappingCost } = workerFigures;
  const firstImportPerSecond = perSecond(worker.firstImport.employeesFetched, worker.firstImportMs);
  const reimportPerSecond = perSecond(worker.reimport.employeesFetched, worker.reimportMs);
  const writesPerEmployee = ratio(worker.firstImport.dynamoWriteRequests, worker.firstImport.employeesFetched);
  const mappingOverParse = ratio(mappingCost.mappingUsPerEmployee, mappingCost.jsonParseUsPerEmployee);
  const firstRequests = worker.firstImportDynamoRequests;
  const reRequests = worker.reimportDynamoRequests;
  rows.push(
    {
      measure: 'worker throughput, first import (4 environments)',
      value: `${int(firstImportPerSecond)} employees/s (${int(worker.firstImport.employeesFetched)} in ${sec(worker.firstImportMs, 1)})`,
      target: '– (none set)',
      pass: null,
    },
    {
      measure: 'worker throughput, unchanged re-import',
      value: `${int(reimportPerSecond)} employees/s (${int(worker.reimport.employeesFetched)} in ${sec(worker.reimportMs, 1)})`,
      target: '– (none set)',
      pass: null,
    },
    {
      measure: 'user writes, first import',
      value: `${int(worker.firstImport.dynamoWriteRequests)} for ${int(worker.firstImport.employeesFetched)} employees = ${writesPerEmployee.toFixed(2)}× (${int(worker.firstImport.created)} created)`,
      target: `≤ ${targets.firstImportWritesPerEmployee}× employees`,
      pass: writesPerEmployee <= targets.firstImportWritesPerEmployee,
    },
    {
      measure: 'user writes, unchanged re-import',
      value: `${int(worker.reimport.dynamoWriteRequests)} (${int(worker.reimport.unchanged)} users unchanged)`,
      target: `${targets.reimportWrites}`,
      pass: worker.reimport.dynamoWriteRequests === targets.reimportWrites,
    },
    {
      measure: 'all DynamoDB requests, first import (fetch + worker, run bookkeeping included)',
      value: `${int(firstRequests.total)} = ${requestsPerEmployee(firstRequests, worker.firstImport.employeesFetched).toFixed(3)} per employee (${operationsText(firstRequests)})`,
      target: '–',
      pass: null,
    },
    {
      measure: 'all DynamoDB requests, unchanged re-import',
      value: `${int(reRequests.total)} = ${requestsPerEmployee(reRequests, worker.reimport.employeesFetched).toFixed(3)} per employee (${operationsText(reRequests)})`,
      target: '–',
      pass: null,
    },
    {
      measure: 'worker peak RSS, one environment',
      value: `${int(worker.peakRssMb)} MB`,
      target: `< ${targets.workerPeakRssMb} MB`,
      pass: worker.peakRssMb < targets.workerPeakRssMb,
    },
    {
      measure: 'mapping vs JSON.parse, per employee',
      value: `${mappingCost.mappingUsPerEmployee.toFixed(2)} µs vs ${mappingCost.jsonParseUsPerEmployee.toFixed(2)} µs = ${mappingOverParse.toFixed(2)}×`,
      target: `≤ ${targets.mappingOverJsonParse}× JSON.parse`,
      pass: mappingOverParse <= targets.mappingOverJsonParse,
    },
  );
}
if (webhookFigures) {
  const w = webhookFigures;
  rows.push(
    {
      measure: `webhook → user written, p50 / p99 (${int(w.changes)} changes, ${w.deltaRuns} delta runs)`,
      value: `${sec(w.rowWrittenP50Ms)} / ${sec(w.rowWrittenP99Ms)}`,
      target: `p99 ≤ ${sec(targets.webhookP99Ms, 0)}`,
      pass: w.missing === 0 && w.rowWrittenP99Ms <= targets.webhookP99Ms,
    },
    {
      measure: 'webhook → change event published, p50 / p99',
      value: `${sec(w.eventPublishedP50Ms)} / ${sec(w.eventPublishedP99Ms)}${w.missing > 0 ? ` (${w.missing} never arrived)` : ''}`,
      target: `p99 ≤ ${sec(targets.webhookP99Ms, 0)}`,
      pass: w.missing === 0 && w.eventPublishedP99Ms <= targets.webhookP99Ms,
    },
    {
      measure: 'Personio requests per changed employee',
      value: w.personioRequestsPerChange.toFixed(3),
      target: `≤ ${targets.webhookRequestsPerChange}`,
      pass: w.personioRequestsPerChange <= targets.webhookRequestsPerChange,
    },
    { measure: '429s during the changes', value: `${w.personio429}`, target: `${targets.webhook429}`, pass: w.personio429 === targets.webhook429 },
  );
}
for (const [name, f] of Object.entries(functions ?? {})) {
  const targetKb = targets.bundleKb[name as keyof typeof targets.bundleKb];
  rows.push({
    measure: `${name} bundle`,
    value: `${int(f.bundleKb)} KiB (${int(f.gzipKb)} KiB gzip)`,
    target: `≤ ${int(targetKb)} KiB${name === 'sweeper' ? ' (ours)' : ''}`,
    pass: f.bundleKb <= targetKb,
  });
  rows.push({
    measure: `${name} bundle contents`,
    value: describeFindings(f.contents),
    target: `only zod's English locale; no module over ${MAX_MODULE_KB} KiB`,
    pass: bundleIsClean(f.contents),
  });
}
for (const [name, f] of Object.entries(functions ?? {})) {
  rows.push({
    measure: `${name} init, import() with --enable-source-maps`,
    value: `${int(f.initMsWithSourceMaps.median)} ms median (fastest ${int(f.initMsWithSourceMaps.fastest)} ms; ${int(f.initMs.median)} ms without source maps)`,
    target: '– (none: this machine is too noisy for one)',
    pass: null,
  });
}

const cpu = cpus();
const machine = {
  node: process.version,
  cpus: cpu.length,
  cpuModel: cpu[0]?.model.trim() ?? 'unknown',
  loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
};
log('');
log(
  `${startedAt.toISOString()} – ${finishedAt.toISOString()}, Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, load average ${machine.loadAverage.join(' / ')} (1 / 5 / 15 min) at the end`,
);
if (SECTIONS.some((s) => !runs(s))) log(`Sections run: ${SECTIONS.filter(runs).join(', ')} (--only); the others' rows are left out.`);
for (const line of markdownTable(rows)) log(line);
log('');
log(summary(rows));
log(
  `Targets: fetch from issue 3, worker from issue 4, bundles from issue 13 (the sweeper's, webhook's, refresh's and publisher's are the bench's own), webhooks from issue 15; init has none. Init: import() of the bundle in a fresh Node process, ${initRuns} runs, this machine's cores (Lambda's ARM64 differ).`,
);

if (values.json) {
  const largestRun = largest !== undefined ? memory[largest] : undefined;
  const fetchJson = fetchFigures && {
    employees,
    wallMs: Math.round(fetchFigures.ours.wallMs),
    floorMs: fetchFigures.floorMs,
    sequentialWallMs: Math.round(fetchFigures.sequential.wallMs),
    requests: fetchFigures.oursStats.requests,
    rateLimited: fetchFigures.oursStats.rateLimited,
  };
  const memoryJson = runs('memory') && {
    peakRssMb: largestRun ? Math.round(largestRun.peakRssMb) : null,
  };
  const fetchRestJson = fetchFigures && {
    cpuMs: Math.round(fetchFigures.ours.cpuMs),
    sequentialCpuMs: Math.round(fetchFigures.sequential.cpuMs),
    sequentialRequests: fetchFigures.sequentialStats.requests,
    sequentialRateLimited: fetchFigures.sequentialStats.rateLimited,
  };
  const memoryRestJson = runs('memory') && {
    peakRssMbBySize: Object.fromEntries(Object.entries(memory).map(([k, v]) => [k, Math.round(v.peakRssMb)])),
  };
  const workerJson = workerFigures && workerJsonOf(workerFigures);
  const figures = {
    ...((fetchJson || memoryJson) && { fetch: { ...fetchJson, ...memoryJson, ...fetchRestJson, ...memoryRestJson } }),
    ...(workerJson && { worker: workerJson }),
    ...(webhookFigures && { webhooks: webhookFigures }),
    ...(functions && {
      functions: Object.fromEntries(
        Object.entries(functions).map(([name, f]) => [
          name,
          {
            bundleKb: f.bundleKb,
            // As deployed (NODE_OPTIONS=--enable-source-maps): median of the runs.
            initMs: f.initMsWithSourceMaps.median,
            initMsFastest: f.initMsWithSourceMaps.fastest,
            initMsWithoutSourceMaps: f.initMs.median,
            gzipKb: f.gzipKb,
            largestModuleKb: f.contents.largest ? Math.round(f.contents.largest.kb) : null,
            foreignZodLocales: f.contents.foreignLocales.length,
            oversizedModules: f.contents.oversized,
          },
        ]),
      ),
    }),
    report: rows,
    targets,
    machine: { ...machine, startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), initRuns, sections: SECTIONS.filter(runs) },
  };
  await writeFile(values.json, `${JSON.stringify(figures, null, 2)}\n`);
  log(`\nwrote ${values.json}`);
}

function workerJsonOf({ worker, mappingCost }: NonNullable<typeof workerFigures>) {
  const perEmployee = (requests: DynamoRequestCounts, employeesFetched: number) => Number(requestsPerEmployee(requests, employeesFetched).toFixed(3));
  return {
    employees: worker.employees,
    firstImportWriteRequests: worker.firstImport.dynamoWriteRequests,
    reimportWriteRequests: worker.reimport.dynamoWriteRequests,
    mappingUsPerEmployee: Number(mappingCost.mappingUsPerEmployee.toFixed(3)),
    jsonParseUsPerEmployee: Number(mappingCost.jsonParseUsPerEmployee.toFixed(3)),
    peakRssMb: Math.round(worker.peakRssMb),
    firstImportWorkerMs: Math.round(worker.firstImportWorkerMs),
    firstImportMs: Math.round(worker.firstImportMs),
    reimportMs: Math.round(worker.reimportMs),
    firstImportEmployeesPerSecond: Math.round(perSecond(worker.firstImport.employeesFetched, worker.firstImportMs)),
    reimportEmployeesPerSecond: Math.round(perSecond(worker.reimport.employeesFetched, worker.reimportMs)),
    usersCreated: worker.firstImport.created,
    // Every DynamoDB request of each import (the fetch's and the worker processes'; the run's bookkeeping included).
    firstImportDynamoRequests: worker.firstImportDynamoRequests.total,
    reimportDynamoRequests: worker.reimportDynamoRequests.total,
    firstImportDynamoRequestsPerEmployee: perEmployee(worker.firstImportDynamoRequests, worker.firstImport.employeesFetched),
    reimportDynamoRequestsPerEmployee: perEmployee(worker.reimportDynamoRequests, worker.reimport.employeesFetched),
    dynamoRequestsByOperation: { firstImport: worker.firstImportDynamoRequests.byOperation, reimport: worker.reimportDynamoRequests.byOperation },
    // HTTP attempts, the SDK's own retries included (= the requests when it retried nothing).
    dynamoHttpAttempts: { firstImport: worker.firstImportDynamoRequests.attempts, reimport: worker.reimportDynamoRequests.attempts },
  };
}
