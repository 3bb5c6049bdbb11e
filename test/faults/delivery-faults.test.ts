import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { expect, it } from 'vitest';
import { mapEmployee, type MappedEmployee } from '../../lib/mapping/map-employee.js';
import type { RunReport } from '../../lib/runs/run.js';
import { parseImportMessage } from '../../lib/worker/process-message.js';
import { IMPORT_QUEUE_MAX_RECEIVE_COUNT } from '../../local/aws/stack.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { drain, queueDepth } from '../helpers/queue.js';
import { afterFirstPage, type FaultCase } from './harness.js';
import { faultSuite } from './suite.js';

/**
 * Fault suite, delivery side (project issue 7): SQS redelivery, a worker dying half-way, a poison
 * message, Secrets Manager down, Personio failing after messages were sent, and Personio's employee
 * list changing while the fetch pages it.
 */

const POISON = '{"v":1,"tenantId":"poison", truncated';
let poisonDeliveries = 0;
let dlqBodies: string[] = [];

/** Every employee the run fetched is in exactly one of the report's counts: redeliveries and retries count once. */
const accounted = (r: RunReport) => r.created + r.updated + r.unchanged + r.failed;

const cases: FaultCase[] = [
  {
    fault: 'every SQS message delivered twice',
    expect: { outcome: 'completed' },
    baseline: false,
    worker: (real, ctx) => {
      const copied = new Set<string>();
      return async (event, context) => {
        // The first delivery of each body queues a second one, which arrives in another batch (or concurrently).
        for (const record of event.Records) {
          if (copied.has(record.body)) continue;
          copied.add(record.body);
          await ctx.env.sqs.send(new SendMessageCommand({ QueueUrl: ctx.env.queueUrls.importQueueUrl, MessageBody: record.body }));
        }
        return real(event, context);
      };
    },
    check: (_, r) => {
      // Counted once: every employee once in the report, and created equals the users in the table.
      expect(r.report.employeesFetched).toBeGreaterThan(0);
      expect(accounted(r.report)).toBe(r.report.employeesFetched);
      expect(r.report.created).toBe(r.users.length);
    },
  },
  {
    fault: 'a worker failing after writing half a message',
    expect: { outcome: 'completed' },
    baseline: false,
    worker: (real, ctx) => {
      let crashed = false;
      return async (event, context) => {
        const record = event.Records[0];
        if (crashed || !record) return real(event, context);
        crashed = true;
        // Does what the worker does up to the middle of its writes, then dies: the batch comes back.
        const message = parseImportMessage(record.body);
        const run = await ctx.env.runs.get(message.tenantId, message.runId);
        const mapped = message.employees.map((e) => mapEmployee(e, run!.mapping)).flatMap((m): MappedEmployee[] => (m.ok ? [m.employee] : []));
        const half = mapped.slice(0, Math.ceil(mapped.length / 2));
        await ctx.env.users.upsertMany(message.tenantId, half, { runId: message.runId, fetchedAt: message.fetchedAt });
        halfWritten = half.length;
        throw new Error('worker crashed half-way through a message');
      };
    },
    check: (_, r) => {
      expect(halfWritten).toBeGreaterThan(0);
      expect(accounted(r.report)).toBe(r.report.employeesFetched);
      expect(r.report.created).toBe(r.users.length);
    },
  },
  {
    fault: 'a poison message in the queue',
    expect: { outcome: 'completed' },
    baseline: false,
    during: async (ctx) => {
      await ctx.env.sqs.send(new SendMessageCommand({ QueueUrl: ctx.env.queueUrls.importQueueUrl, MessageBody: POISON }));
    },
    worker: (real) => async (event, context) => {
      poisonDeliveries += event.Records.filter((record) => record.body === POISON).length;
      return real(event, context);
    },
    // Settled once the redrive has set the poison message aside (5 receives, 1 s apart).
    settled: async ({ env }) => (await queueDepth(env, env.queueUrls.importDlqUrl)) > 0,
    check: async ({ env }, r) => {
      dlqBodies = (await drain(env, env.queueUrls.importDlqUrl)).map((m) => m.Body ?? '');
      expect(dlqBodies).toEqual([POISON]);
      // Reported as failed each time it reached the worker (never deleted as done), and set aside by the redrive policy
      // rather than kept cycling (the local SQS may count a receive the worker never saw, so at most, not exactly),
      // while every employee of the run was counted once.
      expect(poisonDeliveries).toBeGreaterThan(0);
      expect(poisonDeliveries).toBeLessThanOrEqual(IMPORT_QUEUE_MAX_RECEIVE_COUNT);
      expect(accounted(r.report)).toBe(r.report.employeesFetched);
      expect(r.report.created).toBe(r.users.length);
    },
  },
  {
    fault: '429 storm with Retry-After: 2',
    expect: { outcome: 'completed' },
    baseline: false,
    arrange: ({ sim }) => sim.setKnobs({ employeesPerSecond: 1, retryAfterSeconds: 2 }),
    check: (_, r) => expect(r.run.personio429).toBeGreaterThan(0),
  },
  {
    fault: 'Personio down after page 0, one employee changed',
    expect: { outcome: 'failed', code: /^personio_(unavailable|timeout)$/ },
    budgetMs: 20_000,
    arrange: ({ sim }) => {
      // A change since the baseline, on page 0: a failed run must not apply half of Personio's news either.
      const first = sim.employees().sort((x, y) => x.id - y.id)[0]!;
      sim.updateEmployee(first.id, { position: 'Chief Fault Officer' });
      sim.setKnobs({ latencyMs: 300, latencyJitter: false });
    },
    during: (ctx) => afterFirstPage(ctx, () => ctx.sim.setKnobs({ errorRate: 1 })),
  },
  {
    fault: 'Personio down after 25 pages of 3,000, with changes',
    expect: { outcome: 'failed', code: /^personio_(unavailable|timeout)$/, partial: true },
    budgetMs: 20_000,
    prepare: ({ sim }) => void grown.push(...sim.addEmployees(2_700)),
    arrange: ({ sim }) => {
      // Changes spread over the whole list: the pages read before the fault bring theirs, the rest wait for the next import.
      const ids = sim
        .employees()
        .map((e) => e.id)
        .sort((a, b) => a - b);
      for (let i = 0; i < ids.length; i += 50) sim.updateEmployee(ids[i]!, { position: `Fault Analyst ${i}` });
      sim.setKnobs({ latencyMs: 100, latencyJitter: false });
    },
    // 3,000 employees are 31 list requests (page 0, then 30 overlapping pages): after 25, the ten messages of the first
    // batch have gone out and some pages are still to come. If paging changes, assertPartial says so (no user changed).
    during: (ctx) => afterFirstPage(ctx, () => ctx.sim.setKnobs({ errorRate: 1 }), 25),
    restore: ({ sim }) => {
      sim.removeEmployees(grown.splice(0));
    },
  },
  {
    fault: 'slow pages (1.5 s ± 50 %) within budget',
    expect: { outcome: 'completed' },
    baseline: false,
    arrange: ({ sim }) => sim.setKnobs({ latencyMs: 1_500 }),
  },
  {
    fault: 'Secrets Manager unavailable',
    expect: { outcome: 'failed', code: /^secrets_unavailable$/ },
    arrange: ({ env }) => env.stack.secretsManager.setUnavailable(true),
    restore: ({ env }) => env.stack.secretsManager.setUnavailable(false),
  },
  {
    fault: '30 employees added mid-run',
    expect: { outcome: 'completed' },
    arrange: ({ sim }) => sim.setKnobs({ latencyMs: 400, latencyJitter: false }),
    during: (ctx) => afterFirstPage(ctx, () => void ctx.sim.addEmployees(30)),
  },
  {
    fault: '10 employees not yet paged removed mid-run',
    expect: { outcome: 'completed' },
    arrange: ({ sim }) => sim.setKnobs({ latencyMs: 400, latencyJitter: false }),
    during: (ctx) =>
      afterFirstPage(ctx, () => {
        const ids = ctx.sim
          .employees()
          .map((e) => e.id)
          .sort((a, b) => a - b);
        ctx.sim.removeEmployees(ids.slice(150, 160));
      }),
    check: (_, r) => expect(r.run.deactivated).toBeGreaterThan(0),
  },
  {
    fault: '5 paged employees removed + 5 added mid-run',
    expect: { outcome: 'completed' },
    arrange: ({ sim }) => sim.setKnobs({ latencyMs: 400, latencyJitter: false }),
    during: (ctx) =>
      afterFirstPage(ctx, () => {
        // Removed from page 0, which the run already has; as many added at the end: the total stays put.
        const ids = ctx.sim
          .employees()
          .map((e) => e.id)
          .sort((a, b) => a - b);
        const removed = ids.slice(10, 15);
        for (const id of removed) ctx.removedMidRun.add(id);
        ctx.sim.removeEmployees(removed);
        ctx.sim.addEmployees(5);
      }),
  },
];
let halfWritten = 0;
const grown: number[] = [];

faultSuite('Fault suite — delivery, AWS and a changing Personio', 'df', cases, (shared) => {
  it('runImport reports a poison message instead of hanging', async () => {
    // Prepare: a connected tenant and a poison message queued before the run
    const { env, harness } = shared();
    await harness.stop();
    await connectThroughApi(env, 'df-poison-runner', env.personio);
    await env.sqs.send(new SendMessageCommand({ QueueUrl: env.queueUrls.importQueueUrl, MessageBody: POISON }));

    // Act
    const outcome = await runImport(env, 'df-poison-runner', { timeoutMs: 60_000 }).then(
      (report) => ({ report, error: undefined }),
      (error: unknown) => ({ report: undefined, error }),
    );
    await env.eventSource.stop();

    // Assess: it either finished before the redrive or names the dead-letter queue; never the timeout
    const dlq = await drain(env, env.queueUrls.importDlqUrl);
    expect(String(outcome.error ?? '')).not.toMatch(/did not finish in time/);
    if (outcome.error) expect(String(outcome.error)).toMatch(/dead-letter queue/);
    else expect(outcome.report?.status).toBe('completed');
    expect(dlq.map((m) => m.Body)).toEqual([POISON]);
  }, 60_000);
});
