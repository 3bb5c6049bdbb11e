import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RunReport } from '../lib/runs/run.js';
import { parseStartArgs, usage, UsageError } from './runner/args.js';
import { startLocalEnvironment, type LocalEnvironment } from './runner/environment.js';
import { connectThroughApi, runImport, saveMappingThroughApi } from './runner/import-run.js';
import { bar, fmt, Progress } from './runner/progress.js';

// Local runs use this machine's Node 20; the deployed functions run on nodejs24.x, where the SDK's notice does not apply.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const progress = new Progress();

async function main(): Promise<number> {
  const args = parseStartArgs(process.argv.slice(2));
  if (args.help) {
    console.log(usage);
    return 0;
  }
  const began = Date.now();
  let env: LocalEnvironment | undefined;
  const shutdown = async (signal: string) => {
    progress.log(`\n${signal}: stopping the local stack…`);
    await env?.stop();
    process.exit(130);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    env = await startLocalEnvironment({
      ...(args.personio ? { personio: args.personio } : { simulator: { employees: args.employees } }),
      onStatus: (message) => progress.update(message),
      logLevel: args.verbose ? 'INFO' : 'WARN',
      workerConcurrency: 4,
      // The simulator delivers its changes to the local webhook route; a real Personio cannot reach 127.0.0.1 (and
      // requires HTTPS), so against one the tenant runs on the schedule alone.
      webhooks: !args.personio,
      changeEvents: true,
      ...(args.events ? { eventsFile: resolve(args.events) } : {}),
    });
    const source = env.sim ? `the Personio simulator (${fmt(args.employees)} employees, ${env.sim.url})` : `Personio at ${env.personio.url}`;
    progress.log(`Local stack ready in ${seconds(Date.now() - began)}; importing from ${source} into tenant "${args.tenant}".`);

    const { warnings, webhooks } = await connectThroughApi(env, args.tenant, env.personio);
    progress.log(`Connected tenant "${args.tenant}" (credentials stored in the local Secrets Manager).`);
    if (webhooks?.status === 'active') progress.log(`Webhooks active: Personio delivers changes to ${env.webhookServer?.url}${args.tenant}`);
    else if (webhooks) progress.log(`Webhooks unavailable: ${webhooks.reason ?? 'no reason given'} Imports run on the schedule.`);
    for (const warning of warnings) progress.log(`  note: ${warning}`);
    if (args.mapping) {
      await saveMappingThroughApi(env, args.tenant, args.mapping.mapping);
      const fields = Object.values(args.mapping.mapping.fields).filter((s) => s !== null).length;
      const custom = Object.keys(args.mapping.mapping.customFields).length;
      progress.log(`Saved the mapping from ${args.mapping.file}: ${fields} field(s), ${custom} custom field(s).`);
    }

    const reports: RunReport[] = [];
    // The simulator's data set does not change between runs; counting it parses every employee.
    const expected = env.sim ? env.sim.employees().length : undefined;
    for (let i = 1; i <= args.runs; i++) {
      const label = args.runs > 1 ? `run ${i}/${args.runs}` : 'import';
      const report = await runImport(env, args.tenant, {
        onProgress: ({ phase, run, queued }) => {
          const done = run ? run.created + run.updated + run.unchanged + run.failed : 0;
          const total = run?.employeesFetched || expected || 0;
          const pages = env?.sim ? `${fmt(env.sim.stats().employeeListRequests)} pages` : `${fmt(run?.personioRequests ?? 0)} requests`;
          progress.update(
            `${label}: ${phase === 'fetching' ? `fetching (${pages})` : 'fetched'} · worker ${bar(done, total)} ${fmt(done)}/${fmt(total)} · ${fmt(queued)} queued`,
          );
        },
      });
      reports.push(report);
      progress.log(summaryLine(label, report));
      for (const finding of report.findings) progress.log(`    ${finding.code}: ${finding.message}`);
    }

    if (args.dumpUsers) {
      const users = await env.users.list(args.tenant);
      users.sort((a, b) => a.personioId - b.personioId);
      await writeFile(resolve(args.dumpUsers), `${JSON.stringify(users, null, 2)}\n`);
      progress.log(`Wrote ${fmt(users.length)} users to ${args.dumpUsers}`);
    }
    if (args.report) {
      await writeFile(resolve(args.report), `${JSON.stringify(reports, null, 2)}\n`);
      progress.log(`Wrote ${reports.length} run report(s) to ${args.report}`);
    }
    // Every change the runs made is published before the summary counts them.
    await env.changeEventsIdle();
    const published = env.stack.eventBridge.events().length;
    progress.log(`Published ${fmt(published)} change event(s) to the local event bus${args.events ? `, written to ${args.events}` : ''}.`);
    const failed = reports.filter((r) => r.status === 'failed');
    progress.log(`Done in ${seconds(Date.now() - began)}.`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    progress.clear();
    await env?.stop();
  }
}

function summaryLine(label: string, r: RunReport): string {
  return [
    `${label} ${r.status}: fetched ${fmt(r.employeesFetched)} employees`,
    `users created ${fmt(r.created)}, updated ${fmt(r.updated)}, unchanged ${fmt(r.unchanged)}, deactivated ${fmt(r.deactivated)}, failed ${fmt(r.failed)}`,
    `Personio requests ${fmt(r.personioRequests)} (${fmt(r.personio429)} × 429)`,
    `DynamoDB writes ${fmt(r.dynamoWriteRequests)}`,
    `${seconds(r.durationMs)}`,
  ].join(' · ');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress.clear();
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${usage}`);
      process.exit(2);
    }
    console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
