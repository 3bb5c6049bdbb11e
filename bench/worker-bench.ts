import { fileURLToPath } from 'node:url';
import { mapEmployee } from '../lib/mapping/map-employee.js';
import { defaultMapping, projection } from '../lib/mapping/mapping.js';
import { PersonioClient, clearTokenCache } from '../lib/personio/client.js';
import type { PersonioEmployee } from '../lib/personio/employee.js';
import { pageEmployees } from '../lib/personio/pager.js';
import { RateLimiter } from '../lib/personio/rate-limiter.js';
import { isFinalRunStatus, toReport, type RunReport } from '../lib/runs/run.js';
import { DEFAULT_SIM_CREDENTIAL } from '../local/personio-sim/index.js';
import { startLocalEnvironment } from '../local/runner/environment.js';
import { connectThroughApi } from '../local/runner/import-run.js';
import { fetchContext } from '../local/runner/events.js';
import { runTsxChild } from './child.js';
import { countDynamoRequests, dynamoRequests, dynamoRequestsSince, sumDynamoRequests, type DynamoRequestCounts } from './dynamo-requests.js';
import type { SimProcess } from './sim-process.js';

export interface WorkerFigures {
  employees: number;
  firstImport: RunReport;
  reimport: RunReport;
  /** Wall time of the worker processes of the first import, start-up and idle tail included. */
  firstImportWorkerMs: number;
  /** From the first execution environment ready to the run final (its finishedAt): the import itself. */
  firstImportMs: number;
  reimportMs: number;
  peakRssMb: number;
  /**
   * Every DynamoDB request of each import: the fetch's (this process) and the worker processes', the run's own
   * bookkeeping included; not the bench's own reads (connecting the tenant, waiting for the run to be final).
   */
  firstImportDynamoRequests: DynamoRequestCounts;
  reimportDynamoRequests: DynamoRequestCounts;
}

/** The worker on DynamoDB Local: a first import of the simulator's tenant, then an unchanged re-import. */
export async function measureWorker(sim: SimProcess, employees: number, log: (line: string) => void): Promise<WorkerFigures> {
  countDynamoRequests();
  const env = await startLocalEnvironment({ personio: { url: sim.url, ...DEFAULT_SIM_CREDENTIAL }, logLevel: 'ERROR' });
  try {
    await connectThroughApi(env, 'bench', env.personio);
    const run = async (
      label: string,
    ): Promise<{ report: RunReport; workerMs: number; importMs: number; peakRssMb: number; dynamoRequests: DynamoRequestCounts }> => {
      const before = dynamoRequests();
      const fetched = await env.handlers.fetch({ tenantId: 'bench' }, fetchContext());
      if (fetched.status !== 'fetched') throw new Error(`fetch: ${JSON.stringify(fetched)}`);
      const started = performance.now();
      // Four execution environments, each handling one batch at a time as Lambda does.
      const workers = await Promise.all(Array.from({ length: 4 }, () => runWorkerProcess(env.stack.env, env.queueUrls.importQueueUrl)));
      const worker = { peakRssMb: Math.max(...workers.map((w) => w.peakRssMb)) };
      const workerMs = performance.now() - started;
      // Taken before waitForFinal's reads: the fetch's requests (and any other of this process during the import).
      const ours = dynamoRequestsSince(dynamoRequests(), before);
      const requests = sumDynamoRequests([ours, ...workers.map((w) => w.dynamoRequests)]);
      const report = await waitForFinal(env, fetched.runId);
      if (report.status !== 'completed') throw new Error(`${label}: the run ended ${report.status}, not completed`);
      // The import proper: from the first environment ready to poll to the run's finish (written by the worker that
      // finalized it), without the processes' start-up (tsx) and the 2 s of empty queue they wait before exiting.
      const importMs = Date.parse(report.finishedAt ?? '') - Math.min(...workers.map((w) => w.readyAt));
      log(
        `  ${label}: ${report.status}, created ${report.created}, unchanged ${report.unchanged}, ${report.dynamoWriteRequests} writes, import ${(importMs / 1000).toFixed(1)} s (worker processes ${(workerMs / 1000).toFixed(1)} s)`,
      );
      const perEmployee = report.employeesFetched > 0 ? requests.total / report.employeesFetched : Number.NaN;
      const operations = (c: DynamoRequestCounts) =>
        Object.entries(c.byOperation)
          .map(([operation, n]) => `${operation} ${n}`)
          .join(', ');
      log(
        `    DynamoDB requests: ${requests.total} = ${perEmployee.toFixed(3)} per employee (${operations(requests)}); ${requests.attempts} HTTP attempts; of them the fetch's: ${ours.total} (${operations(ours)})`,
      );
      return { report, workerMs, importMs, peakRssMb: worker.peakRssMb, dynamoRequests: requests };
    };
    const first = await run('first import');
    const again = await run('unchanged re-import');
    return {
      employees,
      firstImport: first.report,
      reimport: again.report,
      firstImportWorkerMs: first.workerMs,
      firstImportMs: first.importMs,
      reimportMs: again.importMs,
      peakRssMb: Math.max(first.peakRssMb, again.peakRssMb),
      firstImportDynamoRequests: first.dynamoRequests,
      reimportDynamoRequests: again.dynamoRequests,
    };
  } finally {
    await env.stop();
  }
}

async function waitForFinal(env: Awaited<ReturnType<typeof startLocalEnvironment>>, runId: string): Promise<RunReport> {
  for (let i = 0; i < 600; i++) {
    const run = await env.runs.get('bench', runId);
    if (run && isFinalRunStatus(run.status)) return toReport(run);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`run ${runId} did not finish`);
}

function runWorkerProcess(
  stackEnv: Record<string, string>,
  queueUrl: string,
): Promise<{ peakRssMb: number; readyAt: number; dynamoRequests: DynamoRequestCounts }> {
  const entry = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
  return runTsxChild(entry, [], { ...process.env, ...stackEnv, IMPORT_QUEUE_URL: queueUrl, POWERTOOLS_LOG_LEVEL: 'ERROR', WORKER_CONCURRENCY: '1' });
}

/**
 * Mapping cost per employee against JSON.parse of the same employee's JSON, as the worker sees them
 * (projected, compact): best of several rounds, after a warm-up.
 */
export async function measureMapping(sim: SimProcess): Promise<{ employees: number; mappingUsPerEmployee: number; jsonParseUsPerEmployee: number }> {
  clearTokenCache();
  const mapping = defaultMapping('dynamic_180883');
  const client = new PersonioClient({ baseUrl: sim.url, appId: 'DADO_BENCH', credentials: DEFAULT_SIM_CREDENTIAL, limiter: new RateLimiter({ windows: [] }) });
  const employees: PersonioEmployee[] = [];
  await pageEmployees(client, { attributes: projection(mapping) }, async (page) => void employees.push(...page));
  const texts = employees.map((e) => JSON.stringify(e));
  const best = (fn: () => void) => {
    let min = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 7; round++) {
      const t = performance.now();
      fn();
      min = Math.min(min, performance.now() - t);
    }
    return (min * 1_000) / employees.length;
  };
  let sink = 0;
  const parsed = texts.map((t) => JSON.parse(t) as PersonioEmployee);
  const jsonParseUsPerEmployee = best(() => {
    for (const text of texts) sink += (JSON.parse(text) as object) ? 1 : 0;
  });
  const mappingUsPerEmployee = best(() => {
    for (const employee of parsed) sink += mapEmployee(employee, mapping).ok ? 1 : 0;
  });
  if (sink < 0) throw new Error('unreachable');
  return { employees: employees.length, mappingUsPerEmployee, jsonParseUsPerEmployee };
}
