import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { clearTokenCache } from '../../lib/personio/client.js';
import { refreshBatch } from '../../lib/refresh/batch.js';
import { runImport } from '../../local/runner/import-run.js';
import { lambdaContext, sqsEvent } from '../helpers/events.js';
import { useRunsWorld } from '../runs/support.js';
import { changeBody, deltaRuns, deliverChanges, finalReport, latestDeltaReport, refreshDeps, refreshHandler } from './support.js';

/** A Personio fetch that answers 503 (Retry-After: 0, so the client's retries are immediate) for these employees. */
function failingFor(ids: readonly number[]): typeof globalThis.fetch {
  const paths = new Set(ids.map((id) => `/v1/company/employees/${id}`));
  return async (input, init) => {
    const request = new Request(input, init);
    if (paths.has(new URL(request.url).pathname)) return new Response('{"success":false}', { status: 503, headers: { 'Retry-After': '0' } });
    return globalThis.fetch(request);
  };
}

const records = (tenantId: string, ids: readonly number[]) => ids.map((id, i) => ({ messageId: `m-${tenantId}-${i}`, body: changeBody(tenantId, id) }));

describe('delta runs: one employee never fails the run', () => {
  const world = useRunsWorld();
  const env = () => world.env;

  beforeEach(() => clearTokenCache());

  async function importedTenant(tenantId: string) {
    const personio = await world.personio(tenantId, { employees: 30 });
    await personio.connect();
    expect((await runImport(env(), tenantId)).status).toBe('completed');
    await env().eventSource.stop();
    const ids = personio.sim
      .employees()
      .filter((e) => e.status !== 'inactive')
      .map((e) => e.id);
    return { personio, ids };
  }

  it('deactivates on a 404 only a person named with a deletion; one named as updated is reported not found and stays active', async () => {
    // Prepare: two employees leave Personio; a third is still there
    const { personio, ids } = await importedTenant('delta-404');
    const [updated, deleted, present] = ids as [number, number, number];
    personio.sim.removeEmployees([updated, deleted]);

    // Act: Personio's webhooks name the first as updated only, the second with employment.deleted
    env().eventSource.start();
    const answer = await deliverChanges([
      changeBody('delta-404', updated, 'person.updated'),
      changeBody('delta-404', deleted, 'employment.updated'),
      changeBody('delta-404', deleted, 'employment.deleted'),
      changeBody('delta-404', present),
    ]);
    const delta = await latestDeltaReport(env(), 'delta-404');

    // Assess: the run completes, deactivates exactly the deleted one, and names the other as not imported
    expect(answer.batchItemFailures).toEqual([]);
    expect(delta).toMatchObject({ status: 'completed', deactivated: 1, employeesFetched: 2, unchanged: 1, failed: 1 });
    const notFound = delta.findings.find((f) => f.code === 'employees_not_found');
    expect(notFound?.message).toContain(String(updated));
    expect(notFound?.message).not.toContain(String(deleted));
    const users = new Map((await env().users.list('delta-404')).map((u) => [u.personioId, u]));
    expect(users.get(updated)).toMatchObject({ active: true });
    expect(users.get(updated)?.deactivationReason).toBeUndefined();
    expect(users.get(deleted)).toMatchObject({ active: false, deactivationReason: 'not_in_personio' });
  });

  it('lands the other employees when one keeps failing with 5xx, and reports that one', async () => {
    // Prepare: Personio answers 503 for one employee, whatever the retries
    const { personio, ids } = await importedTenant('delta-one-5xx');
    const [broken, ...others] = ids.slice(0, 4) as [number, ...number[]];
    for (const id of [broken, ...others]) personio.sim.updateEmployee(id, { position: `Moved ${id}` });
    const deps = refreshDeps(env(), world.router.url, { fetch: failingFor([broken]) });

    // Act
    env().eventSource.start();
    const outcome = await refreshBatch(deps, records('delta-one-5xx', [broken, ...others]), Date.now() + 5 * 60_000);
    const delta = await latestDeltaReport(env(), 'delta-one-5xx');

    // Assess: nothing comes back; the run completed with the others written and a finding naming the broken one
    expect(outcome.failed).toEqual([]);
    expect(delta).toMatchObject({ mode: 'delta', status: 'completed', employeesFetched: 4, updated: 3, failed: 1, deactivated: 0 });
    expect(delta.findings.find((f) => f.code === 'employees_unavailable')?.message).toContain(String(broken));
    const users = new Map((await env().users.list('delta-one-5xx')).map((u) => [u.personioId, u]));
    for (const id of others) expect(users.get(id)?.position, `user ${id}`).toBe(`Moved ${id}`);
    expect(users.get(broken)).toMatchObject({ active: true, position: expect.not.stringMatching(/^Moved/) });
  });

  it('fails the run and gives every change back when most reads fail (Personio failing, not those employees)', async () => {
    // Prepare: 3 of 4 named employees answer 503
    const { ids } = await importedTenant('delta-most-5xx');
    const named = ids.slice(0, 4);
    const deps = refreshDeps(env(), world.router.url, { fetch: failingFor(named.slice(0, 3)) });
    const batch = records('delta-most-5xx', named);

    // Act
    const outcome = await refreshBatch(deps, batch, Date.now() + 5 * 60_000);

    // Assess
    expect([...outcome.failed].sort()).toEqual(batch.map((r) => r.messageId).sort());
    const [run] = await deltaRuns(env(), 'delta-most-5xx');
    expect(run).toMatchObject({ status: 'failed', deactivated: 0, failure: { code: 'personio_unavailable' } });
    expect((await env().users.list('delta-most-5xx')).filter((u) => !u.active && u.deactivationReason !== undefined)).toEqual([]);
  });

  it('opens no run while the tenant’s Personio budget is taken, and the change is visible again in about 30 s', async () => {
    // Prepare: a full fetch (stood in for) holds the tenant's budget; a change waits on the real changes queue
    const { ids } = await importedTenant('delta-busy');
    const lease = await env().runs.budget.acquire('delta-busy', {
      holder: 'a-full-fetch',
      waitUntil: Date.now() + 1_000,
      deadline: Date.now() + 180_000,
      priority: true,
    });
    world.afterTest(() => lease.release());
    const queueUrl = env().queueUrls.changesQueueUrl;
    await env().sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: changeBody('delta-busy', ids[0] as number) }));
    const received = await env().sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }));
    const [message] = received.Messages ?? [];
    expect(message).toBeDefined();

    // Act: the refresh, with 20 s left (so it waits 5 s for the budget)
    const handler = await refreshHandler();
    const answer = await handler(sqsEvent([message ?? {}], 'arn:aws:sqs:eu-central-1:000000000000:changes'), lambdaContext('personio-refresh', 20_000));
    const answeredAt = Date.now();

    // Assess: given back, no run recorded; SQS delivers it again within about 30 s (its own timeout is longer)
    expect(answer?.batchItemFailures).toEqual([{ itemIdentifier: message?.MessageId }]);
    expect(await deltaRuns(env(), 'delta-busy')).toEqual([]);
    let again: string | undefined;
    while (!again && Date.now() - answeredAt < 40_000) {
      const next = await env().sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2 }));
      again = next.Messages?.[0]?.MessageId;
    }
    expect(again).toBe(message?.MessageId);
    expect(Date.now() - answeredAt).toBeGreaterThan(25_000);
  }, 90_000);

  it('lets a change given back for a busy budget through once the budget is free', async () => {
    // Prepare: the budget is taken, then freed
    const { personio, ids } = await importedTenant('delta-busy-later');
    const person = ids[2] as number;
    personio.sim.updateEmployee(person, { position: 'After the wait' });
    const lease = await env().runs.budget.acquire('delta-busy-later', { holder: 'a-full-fetch', waitUntil: Date.now() + 1_000, deadline: Date.now() + 60_000 });
    const first = await deliverChanges([changeBody('delta-busy-later', person)], 20_000);
    expect(first.batchItemFailures).toHaveLength(1);
    await lease.release();

    // Act: SQS delivers it again
    env().eventSource.start();
    const second = await deliverChanges([changeBody('delta-busy-later', person)]);
    const [run] = await deltaRuns(env(), 'delta-busy-later');

    // Assess: one run, the change landed
    expect(second.batchItemFailures).toEqual([]);
    expect(await finalReport(env(), 'delta-busy-later', run?.runId as string)).toMatchObject({ status: 'completed', updated: 1 });
    expect((await env().users.list('delta-busy-later')).find((u) => u.personioId === person)?.position).toBe('After the wait');
  }, 60_000);
});
