/**
 * Bad SQS bodies for the real worker handler on the local stack: any string, any JSON, import messages with one
 * field broken, messages of a run that does not exist, mixed in batches with redeliveries of a real message.
 *
 * The worker's policy (functions/worker.ts, lib/worker): every record that fails is reported in
 * batchItemFailures, so SQS retries it and, after the queue's redrive limit, sets it aside in the DLQ; a record
 * that can never succeed (PermanentMessageError: malformed_message, unknown_run) is logged as such at ERROR,
 * a record that may succeed later at WARN. Records that succeed are never reported. So: a bad record is reported
 * and logged as permanent, a good one is not reported, and nothing a bad record carries reaches the users table.
 */
import type { SQSBatchResponse } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMapping } from '../../lib/mapping/mapping.js';
import { newRunId, type RunReport } from '../../lib/runs/run.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { captureOutput } from '../helpers/connect-support.js';
import { httpEvent, lambdaContext, scheduledEvent, sqsEvent } from '../helpers/events.js';
import { describeLeaks, findLeaks, knownSecrets } from '../helpers/leak-sweep.js';
import { fetchAndHold } from '../helpers/queue.js';
import { anyJsonValue, nonString, scanTable, weirdString } from './support.js';

const TENANT = 'worker-fuzz';
const NUM_RUNS = 40;

type RecordKind = 'string' | 'json' | 'mutated' | 'unknown-run' | 'duplicate' | 'duplicate-extra-key';
const BAD: ReadonlySet<RecordKind> = new Set(['string', 'json', 'mutated', 'unknown-run']);

interface GeneratedRecord {
  kind: RecordKind;
  body: string;
}

interface LogLine {
  level?: string;
  message?: string;
  messageId?: string;
  error?: { name?: string; code?: string; message?: string };
}

describe('the worker under bad SQS bodies', () => {
  let env: LocalEnvironment;
  /** A real message of a completed run: delivering it again is a harmless redelivery. */
  let good: Record<string, unknown>;
  let goodBody: string;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 30, seed: 5 }, logLevel: 'WARN' });
    await connectThroughApi(env, TENANT, env.personio);
    const { runId, messages } = await fetchAndHold(env, scheduledEvent(TENANT));
    // The baseline: the run imported completely, so the users table holds the simulator's employees.
    const processed = await env.handlers.worker(sqsEvent(messages), lambdaContext('personio-worker', 60_000));
    expect(processed?.batchItemFailures).toEqual([]);
    expect((await env.runs.get(TENANT, runId))?.status).toBe('completed');
    goodBody = messages[0]!.Body!;
    good = JSON.parse(goodBody) as Record<string, unknown>;
  }, 120_000);

  afterAll(async () => {
    await env?.stop();
  });

  /** Runs a batch through the real handler while recording the handler's log lines; fails when they carry a known secret. */
  async function deliver(bodies: string[]): Promise<{ failures: string[]; logs: LogLine[] }> {
    const event = sqsEvent(
      bodies.map((Body, i) => ({ MessageId: `record-${i}`, ReceiptHandle: `receipt-${i}`, Body, Attributes: { ApproximateReceiveCount: '1' } })),
    );
    const output = captureOutput({ passThrough: false });
    let response: SQSBatchResponse | undefined;
    try {
      response = await env.handlers.worker(event, lambdaContext('personio-worker', 60_000));
    } finally {
      output.stop();
    }
    // The capture does not pass the output on, so the global leak sweep never sees it: search it here.
    const leaks = findLeaks(output.text(), knownSecrets());
    expect(leaks, `secrets in the worker's output: ${describeLeaks(leaks)}`).toEqual([]);
    const logs = output
      .text()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
    return { failures: (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier).sort(), logs };
  }

  /** A run's report as the connect API answers it (its counts as they stand, also while the run is not final). */
  async function report(runId: string): Promise<RunReport> {
    const response = await env.handlers.connect(httpEvent('GET', `/tenants/${TENANT}/personio/imports/${runId}`));
    expect(response.statusCode, response.body).toBe(200);
    return JSON.parse(response.body ?? '{}') as RunReport;
  }

  const omit = (value: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== key));
  const set = (key: string, value: unknown) => ({ ...good, [key]: value });
  const firstEmployee = () => (good['employees'] as Record<string, unknown>[])[0] ?? {};

  /** The real message with exactly one thing broken, so that no import message schema can accept it. */
  const mutated = (): fc.Arbitrary<unknown> =>
    fc.oneof(
      fc.constantFrom('v', 'tenantId', 'runId', 'seq', 'fetchedAt', 'employees').map((k) => omit(good, k)),
      anyJsonValue.filter((v) => v !== 1).map((v) => set('v', v)),
      fc.constantFrom('tenantId', 'runId').chain((k) => fc.oneof(nonString, fc.constant('')).map((v) => set(k, v))),
      fc
        .oneof(
          fc.integer({ max: -1 }),
          fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
          fc.string(),
          fc.constantFrom(null, true, [1], { n: 1 }),
        )
        .map((v) => set('seq', v)),
      fc.oneof(nonString, fc.constantFrom('', 'yesterday', '2025-03-01 12:00:00', '1700000000000', 'T', 'Z')).map((v) => set('fetchedAt', v)),
      fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 })).map((v) => set('employees', v)),
      fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 })).map((v) => set('employees', [firstEmployee(), v])),
      fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean()).map((v) => set('employees', [{ ...firstEmployee(), id: v }])),
      fc
        .oneof(
          nonString.filter((v) => v !== null),
          fc.constant(null),
        )
        .map((t) => set('employees', [{ ...firstEmployee(), email: { value: 'x@example.com', type: t } }])),
      fc.constantFrom([good], JSON.stringify(good), null),
    );

  const record: fc.Arbitrary<GeneratedRecord> = fc.oneof(
    weirdString(200).map((body) => ({ kind: 'string' as const, body })),
    fc
      .oneof(
        fc.json({ maxDepth: 4 }),
        anyJsonValue.map((v) => JSON.stringify(v)),
      )
      .map((body) => ({ kind: 'json' as const, body })),
    { weight: 3, arbitrary: mutated().map((v) => ({ kind: 'mutated' as const, body: JSON.stringify(v) })) },
    fc
      .oneof(
        fc.constant({ runId: newRunId(new Date(Date.UTC(2020, 0, 1))) }),
        fc.constant({ tenantId: 'another-tenant' }),
        weirdString(30)
          .filter((s) => s.length > 0 && s !== good['runId'])
          .map((runId) => ({ runId })),
      )
      .map((change) => ({ kind: 'unknown-run' as const, body: JSON.stringify({ ...good, ...change }) })),
    fc.constant(null).map(() => ({ kind: 'duplicate' as const, body: goodBody })),
    fc
      .tuple(
        weirdString(10).filter((k) => !(k in good) && k !== '__proto__'),
        anyJsonValue,
      )
      .map(([k, v]) => ({ kind: 'duplicate-extra-key' as const, body: JSON.stringify({ ...good, [k]: v }) })),
  );

  it('reports exactly the bad records of a batch, as permanent failures, and writes nothing for any of them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 6 }), async (records) => {
        // Prepare
        const before = await Promise.all([scanTable(localNames.usersTable), scanTable(localNames.runsTable)]);

        // Act: no exception may escape the handler
        const { failures, logs } = await deliver(records.map((r) => r.body));

        // Assess
        const bad = records.flatMap((r, i) => (BAD.has(r.kind) ? [`record-${i}`] : []));
        expect(failures).toEqual(bad.sort());
        for (const id of bad) {
          const line = logs.find((l) => l.messageId === id);
          expect(line, `log line of ${id}`).toMatchObject({ level: 'ERROR', error: { name: 'PermanentMessageError' } });
          expect(['malformed_message', 'unknown_run']).toContain(line?.error?.code);
        }
        expect(logs.filter((l) => l.level === 'WARN' || (l.level === 'ERROR' && !bad.includes(l.messageId ?? '')))).toEqual([]);
        // A redelivery counts once, and a rejected record changes nothing: users and runs are as they were.
        expect(await Promise.all([scanTable(localNames.usersTable), scanTable(localNames.runsTable)])).toEqual(before);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('accounts every employee of a message with garbage attributes once, and stores a user only for a valid id and email', async () => {
    // Prepare: a run that is still fetching, so messages are recorded and it never finishes under the test
    const runId = newRunId(new Date());
    // Its lease (where the run store keeps one) outlasts the test, so nothing settles the run as stalled meanwhile.
    const fetching = {
      tenantId: TENANT,
      runId,
      mode: 'full' as const,
      trigger: 'test',
      mapping: defaultMapping(),
      startedAt: new Date(),
      leaseExpiresAt: Date.now() + 60 * 60_000,
    };
    await env.runs.create(fetching);
    let seq = 1_000;
    let nextId = 900_000;
    const garbage = fc.oneof(
      anyJsonValue,
      weirdString(60),
      fc.constantFrom('a@b.c', 'A@B.CO', ' x@y.z ', '@', 'x@y', '2014-11-09T00:00:00+01:00', '2014-02-30', { id: 1 }, { attributes: {} }),
    );
    const attribute = fc.record(
      {
        value: garbage,
        type: fc.option(weirdString(10), { nil: undefined }),
        universal_id: fc.option(fc.constantFrom('date_of_birth', 'x'), { nil: undefined }),
      },
      { requiredKeys: ['value'] },
    );
    const employee = fc.record({
      validId: fc.boolean(),
      badId: fc.oneof(
        fc.integer({ max: 0 }),
        fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
        fc.constantFrom('abc', '', '1e3', '-5', null, true, [7], { value: 7 }),
      ),
      known: fc.dictionary(
        fc.constantFrom(
          'email',
          'first_name',
          'last_name',
          'preferred_name',
          'position',
          'team',
          'department',
          'office',
          'employment_type',
          'hire_date',
          'termination_date',
          'status',
          'supervisor',
          'dynamic_1',
        ),
        attribute,
        { maxKeys: 8 },
      ),
      extra: fc.dictionary(weirdString(15), attribute, { maxKeys: 3 }),
    });
    const emailShape = /^[^\s@A-Z]+@[^\s@A-Z]+\.[^\s@A-Z]+$/;

    await fc.assert(
      fc.asyncProperty(fc.array(employee, { maxLength: 5 }), async (generated) => {
        // Prepare
        const ids: number[] = [];
        const employees = generated.map((e) => {
          const id = e.validId ? nextId++ : e.badId;
          if (typeof id === 'number' && e.validId) ids.push(id);
          return { ...e.extra, ...e.known, id: { value: id } };
        });
        const body = JSON.stringify({ v: 1, tenantId: TENANT, runId, seq: seq++, fetchedAt: new Date().toISOString(), employees });
        const usersBefore = await env.users.list(TENANT);
        const runBefore = await report(runId);

        // Act
        const { failures } = await deliver([body]);

        // Assess: a message whose envelope is valid is processed; bad employees are counted as failed, not retried
        expect(failures).toEqual([]);
        // Counted once, as the run's report (the API's) tells it: each employee in exactly one count.
        const runAfter = await report(runId);
        const accounted = (r: RunReport) => r.created + r.updated + r.unchanged + r.failed;
        expect(accounted(runAfter) - accounted(runBefore)).toBe(employees.length);
        const known = new Set(usersBefore.map((u) => u.personioId));
        const added = (await env.users.list(TENANT)).filter((u) => !known.has(u.personioId));
        for (const user of added) {
          expect(ids).toContain(user.personioId);
          expect(user.email).toMatch(emailShape);
        }
        expect(runAfter.created - runBefore.created).toBe(added.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
