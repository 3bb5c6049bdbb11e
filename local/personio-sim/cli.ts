import { parseArgs } from 'node:util';
import { DEFAULT_SIM_CREDENTIAL, startPersonioSim } from './server.js';
import type { SimOptions } from './types.js';

/** `npm run personio-sim -- [flags]`: the simulator alone, until SIGINT/SIGTERM. */

const usage = `Usage: npm run personio-sim -- [--port P] [--employees N] [--seed S] [--latency-ms L] [--error-rate R]
       [--client-id ID] [--client-secret SECRET] [--extra-attributes K] [--retry-after S] [--company-id ID]
       [--no-webhook-scope] [--ack-timeout-ms MS] [--webhook-retry-delays-ms MS,MS,...]`;

class UsageError extends Error {}

function integer(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return value;
}

function delays(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') return [];
  return raw.split(',').map((part) => integer('webhook-retry-delays-ms', part.trim(), 0, 2_147_483_647) as number);
}

function parseOptions(argv: string[]): SimOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      employees: { type: 'string' },
      seed: { type: 'string' },
      'latency-ms': { type: 'string' },
      'error-rate': { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'extra-attributes': { type: 'string' },
      'retry-after': { type: 'string' },
      'company-id': { type: 'string' },
      'no-webhook-scope': { type: 'boolean' },
      'ack-timeout-ms': { type: 'string' },
      'webhook-retry-delays-ms': { type: 'string' },
    },
  });
  const errorRate = values['error-rate'] === undefined ? undefined : Number(values['error-rate']);
  if (errorRate !== undefined && !(errorRate >= 0 && errorRate <= 1))
    throw new UsageError(`--error-rate must be a number from 0 to 1, got "${values['error-rate']}"`);
  for (const name of ['client-id', 'client-secret', 'company-id'] as const) {
    if (values[name] === '') throw new UsageError(`--${name} must not be empty`);
  }
  const options: SimOptions = {
    port: integer('port', values.port, 0, 65_535),
    employees: integer('employees', values.employees, 0, 1_000_000),
    seed: integer('seed', values.seed, 0, 2 ** 32 - 1),
    latencyMs: integer('latency-ms', values['latency-ms'], 0, 60_000),
    errorRate,
    extraAttributes: integer('extra-attributes', values['extra-attributes'], 0, 1000),
    retryAfterSeconds: integer('retry-after', values['retry-after'], 0, 3600),
    credentials: [
      {
        clientId: values['client-id'] ?? DEFAULT_SIM_CREDENTIAL.clientId,
        clientSecret: values['client-secret'] ?? DEFAULT_SIM_CREDENTIAL.clientSecret,
        webhooks: values['no-webhook-scope'] !== true,
      },
    ],
    companyId: values['company-id'],
    ackTimeoutMs: integer('ack-timeout-ms', values['ack-timeout-ms'], 1, 60_000),
    webhookRetryDelaysMs: delays(values['webhook-retry-delays-ms']),
  };
  // Unset flags must not override the simulator's defaults with `undefined`.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SimOptions;
}

async function main(): Promise<void> {
  let options: SimOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown flags and missing values.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`personio-sim: ${message}\n${usage}\n`);
    process.exit(2);
  }
  const sim = await startPersonioSim(options);
  process.stdout.write(`Personio simulator listening on ${sim.url}\n`);
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main();
