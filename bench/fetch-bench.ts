import ky from 'ky';
import { PersonioClient, clearTokenCache } from '../lib/personio/client.js';
import { pageEmployees } from '../lib/personio/pager.js';
import { RateLimiter } from '../lib/personio/rate-limiter.js';
import { projection, defaultMapping } from '../lib/mapping/mapping.js';
import { MessagePacker } from '../lib/queue/packer.js';
import { DEFAULT_SIM_CREDENTIAL } from '../local/personio-sim/index.js';

export interface FetchMeasurement {
  wallMs: number;
  cpuMs: number;
  requests: number;
  employees: number;
  messages: number;
}

const credentials = DEFAULT_SIM_CREDENTIAL;

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1_000;
}

/** Our fetch path: auth once, concurrent paging under the limiter, packing into message bodies. */
export async function measureOurFetch(baseUrl: string, options: { unlimited?: boolean } = {}): Promise<FetchMeasurement> {
  clearTokenCache();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const client = new PersonioClient({
    baseUrl,
    appId: 'DADO_BENCH',
    credentials,
    ...(options.unlimited ? { limiter: new RateLimiter({ windows: [] }) } : {}),
  });
  const packer = new MessagePacker({ tenantId: 'bench', runId: 'bench-run', fetchedAt: new Date().toISOString() });
  let messages = 0;
  const summary = await pageEmployees(client, { attributes: projection(defaultMapping('dynamic_180883')) }, async (employees) => {
    for (const employee of employees) messages += packer.add(employee).length;
  });
  messages += packer.flush().length;
  return { wallMs: performance.now() - started, cpuMs: cpuMsSince(cpu), requests: client.stats.requests, employees: summary.employees, messages };
}

/**
 * What the peer connectors do: authenticate, then one page after the other with limit=100 until a
 * short page, parsing each. No concurrency, no projection.
 */
export async function measureSequentialPager(baseUrl: string): Promise<FetchMeasurement> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const http = ky.create({ prefixUrl: baseUrl, retry: { limit: 5, delay: () => 1_000 }, timeout: 30_000 });
  const auth = await http
    .post('v1/auth', { json: { client_id: credentials.clientId, client_secret: credentials.clientSecret } })
    .json<{ data: { token: string } }>();
  let requests = 1;
  let employees = 0;
  for (let offset = 0; ; offset += 100) {
    const page = await http
      .get('v1/company/employees', { searchParams: { limit: 100, offset }, headers: { Authorization: `Bearer ${auth.data.token}` } })
      .json<{ data: unknown[] }>();
    requests++;
    employees += page.data.length;
    if (page.data.length < 100) break;
  }
  return { wallMs: performance.now() - started, cpuMs: cpuMsSince(cpu), requests, employees, messages: 0 };
}
