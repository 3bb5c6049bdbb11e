import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserRecord } from '../../lib/users/user.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi, runImport } from '../../local/runner/import-run.js';
import { lambdaContext, sqsEvent } from '../helpers/events.js';
import { fetchAndHold } from '../helpers/queue.js';

/** A tenant's users as content, independent of the tenant's user ids: managers by Personio id. */
function content(users: UserRecord[]): unknown[] {
  const personioIdOf = new Map(users.map((u) => [u.userId, u.personioId]));
  return users
    .map(({ tenantId: _t, userId: _u, managerUserId, ...rest }) => ({ ...rest, manager: managerUserId ? personioIdOf.get(managerUserId) : null }))
    .sort((a, b) => a.personioId - b.personioId);
}

describe('the worker, whatever the order of delivery', () => {
  let env: LocalEnvironment;

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 400, seed: 9 } });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  async function fetchMessages(tenantId: string): Promise<Message[]> {
    const { messages } = await fetchAndHold(env, { tenantId }, { remove: true });
    return messages.sort((a, b) => JSON.parse(a.Body!).seq - JSON.parse(b.Body!).seq);
  }

  it('lands the same users when messages arrive in reverse order, each twice, as in order once', async () => {
    // Prepare
    await connectThroughApi(env, 'in-order', env.personio);
    await connectThroughApi(env, 'reversed', env.personio);
    const inOrder = await fetchMessages('in-order');
    const reversed = (await fetchMessages('reversed')).reverse();

    // Act
    for (const m of inOrder) await env.handlers.worker(sqsEvent([m]), lambdaContext('personio-worker', 60_000));
    for (const m of reversed) await env.handlers.worker(sqsEvent([m, { ...m, MessageId: `${m.MessageId}-again` }]), lambdaContext('personio-worker', 60_000));

    // Assess
    const a = await env.users.list('in-order');
    const b = await env.users.list('reversed');
    expect(a.length).toBeGreaterThan(350);
    expect(content(b)).toEqual(content(a));
    const runs = [(await env.runs.list('in-order', 1))[0], (await env.runs.list('reversed', 1))[0]];
    expect(runs.map((r) => [r?.status, r?.created])).toEqual([
      ['completed', a.length],
      ['completed', a.length],
    ]);
  });

  it('links a manager who could only be imported after the report', async () => {
    // Prepare: a manager without email (cannot be imported) and the people reporting to them
    const employees = env.sim!.employees();
    const managerIds = new Set(
      employees.map((e) => (e.attributes['supervisor'] as { value: { attributes?: { id?: { value?: number } } } | null }).value?.attributes?.id?.value),
    );
    const manager = employees.find((e) => managerIds.has(e.id) && typeof e.email === 'string' && e.email !== '')!;
    env.sim!.updateEmployee(manager.id, { email: '' });
    await connectThroughApi(env, 'late-boss', env.personio);
    const first = await runImport(env, 'late-boss');
    const reportsBefore = (await env.users.list('late-boss')).filter((u) => u.managerPersonioId === manager.id);

    // Act: the manager gets an email in Personio; the next import brings them in
    env.sim!.updateEmployee(manager.id, { email: 'late.boss@musterfirma.example' });
    const second = await runImport(env, 'late-boss');

    // Assess
    expect(first.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['employees_missing_email', 'broken_manager_links']));
    expect(reportsBefore.length).toBeGreaterThan(0);
    expect(reportsBefore.every((u) => u.managerUserId === null)).toBe(true);
    expect(second.created).toBe(1);
    const users = await env.users.list('late-boss');
    const boss = users.find((u) => u.personioId === manager.id)!;
    const reports = users.filter((u) => u.managerPersonioId === manager.id);
    expect(reports.length).toBe(reportsBefore.length);
    expect(reports.every((u) => u.managerUserId === boss.userId)).toBe(true);
  });
});
