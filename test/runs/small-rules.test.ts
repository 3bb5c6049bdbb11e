import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/clients.js';
import type { RunReport } from '../../lib/runs/run.js';
import { personioUserId } from '../../lib/users/store.js';
import type { PersonioSim, SimEmployeeView } from '../../local/personio-sim/index.js';
import { localNames } from '../../local/runner/environment.js';
import { runImport } from '../../local/runner/import-run.js';
import { apiCaller, eventually } from '../helpers/connect-support.js';
import { injectDynamoFaults } from '../helpers/faulty-dynamodb.js';
import { startPersonioFront } from '../helpers/personio-front.js';
import { deleteMessages, fetchAndHold } from '../helpers/queue.js';
import { deliver, holdDynamoCall, idsIn, recordSqsCommands, setMessagesSent, useRunsWorld } from './support.js';

/**
 * Issue 11, items 9 and 6: the smaller rules. A failed run says how many employees it handed on; a run held for a
 * vanished field says how many it would deactivate; a small tenant's single leaver is not held; a transient worker
 * failure comes back within seconds; a lost link race fails one employee, not the message; a list shorter than
 * Personio's own count deactivates nobody.
 */
describe('smaller run rules', () => {
  const world = useRunsWorld();
  const call = apiCaller(() => world.env);
  const db = createDocumentClient();

  const importAll = async (tenantId: string): Promise<RunReport> => {
    const done = await runImport(world.env, tenantId, { timeoutMs: 120_000 });
    await world.env.eventSource.stop();
    return done;
  };
  const withEmail = (sim: PersonioSim) => sim.employees().filter((e) => e.email !== null && e.email.trim() !== '');
  /** Leaves exactly `count` employees in Personio, each active and with an email: as many active users. */
  const keepActive = (sim: PersonioSim, count: number): SimEmployeeView[] => {
    const kept = withEmail(sim)
      .filter((e) => e.status === 'active')
      .slice(0, count);
    expect(kept).toHaveLength(count);
    const keptIds = new Set(kept.map((e) => e.id));
    sim.removeEmployees(
      sim
        .employees()
        .filter((e) => !keptIds.has(e.id))
        .map((e) => e.id),
    );
    return kept;
  };
  const activeIds = async (tenantId: string) => (await world.env.users.list(tenantId)).filter((u) => u.active).map((u) => u.personioId);

  it('reports the employees a failed run handed on when its messages were applied', async () => {
    // Prepare: Personio answers the list's last page with a broken body, every time
    const personio = await world.personio('half-failed', { employees: 1_500 });
    const front = await startPersonioFront();
    world.afterTest(() => front.close());
    front.upstream = personio.sim.url;
    front.rewrite = (path, body) =>
      path.endsWith('/company/employees') && (JSON.parse(body) as { offset?: number }).offset! >= 1_485 ? body.slice(0, 200) : undefined;
    world.router.add(personio.credential.clientId, { url: front.url } as PersonioSim);
    await personio.connect();

    // Act
    const report = await importAll('half-failed');

    // Assess: what landed came from the employees it fetched, and the report says so
    const users = await world.env.users.list('half-failed');
    expect(report.status).toBe('failed');
    expect(report.findings[0]).toMatchObject({ code: 'personio_bad_response' });
    expect(users.length).toBeGreaterThan(0);
    expect(report.created).toBe(users.length);
    expect(report.employeesFetched).toBeGreaterThanOrEqual(users.length);
    expect(report.employeesFetched).toBeLessThan(1_500);
  }, 180_000);

  it('says how many users a run held for a vanished field would deactivate, and approving deactivates those', async () => {
    // Prepare: one employee leaves, and the credential can no longer read anyone's position
    const personio = await world.personio('vanished');
    await personio.connect();
    expect((await importAll('vanished')).status).toBe('completed');
    const active = await activeIds('vanished');
    const leaver = active[0]!;
    personio.sim.removeEmployees([leaver]);
    const keys = [...new Set(personio.sim.employees().flatMap((e) => Object.keys(e.attributes)))];
    personio.sim.setKnobs({ readableAttributes: keys.filter((k) => k !== 'position') });

    // Act
    const held = await importAll('vanished');
    const approved = await call('POST', `/tenants/vanished/personio/imports/${held.runId}/approve`);

    // Assess
    expect(held).toMatchObject({ status: 'held', deactivated: 0 });
    expect(held.findings.map((f) => f.code)).toContain('field_missing');
    expect(held.findings.find((f) => f.code === 'deactivation_held')?.message).toContain(`deactivate 1 of ${active.length}`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'completed', deactivated: 1 });
    const deactivated = (await world.env.users.list('vanished')).filter((u) => !u.active && u.deactivationReason);
    expect(deactivated.map((u) => u.personioId)).toEqual([leaver]);
  });

  it('deactivates the one leaver of a tenant with 4 active users instead of holding it, and holds 3 leavers of 10', async () => {
    // Prepare: two tenants, one with 4 active employees and one with 10; one and three of them leave
    const small = await world.personio('four-users', { employees: 12 });
    const smallKept = keepActive(small.sim, 4);
    await small.connect();
    expect(await importAll('four-users')).toMatchObject({ status: 'completed', created: 4 });
    small.sim.removeEmployees([smallKept[0]!.id]);
    const larger = await world.personio('ten-users', { employees: 20 });
    const largerKept = keepActive(larger.sim, 10);
    await larger.connect();
    expect(await importAll('ten-users')).toMatchObject({ status: 'completed', created: 10 });
    larger.sim.removeEmployees(largerKept.slice(0, 3).map((e) => e.id));

    // Act
    const one = await importAll('four-users');
    const three = await importAll('ten-users');

    // Assess
    expect(one).toMatchObject({ status: 'completed', deactivated: 1 });
    expect((await world.env.users.list('four-users')).find((u) => u.personioId === smallKept[0]!.id)).toMatchObject({
      active: false,
      deactivationReason: 'not_in_personio',
    });
    expect(await activeIds('four-users')).toHaveLength(3);
    expect(three).toMatchObject({ status: 'held', deactivated: 0 });
    expect(three.findings.find((f) => f.code === 'deactivation_held')?.message).toContain('deactivate 3 of 10');
    expect(await activeIds('ten-users')).toHaveLength(10);
  });

  it('retries a message that failed transiently within seconds, not after the queue’s visibility timeout', async () => {
    // Prepare: the users table throttles this tenant past every retry while the worker has the message
    const personio = await world.personio('throttled');
    await personio.connect();
    const { runId, messages } = await fetchAndHold(world.env, { tenantId: 'throttled' });
    expect(messages).toHaveLength(1);
    const message = messages[0]!;
    const faults = world.restoredAfterTest(
      injectDynamoFaults([{ name: 'throttled', table: localNames.usersTable, tenantId: 'throttled', fault: 'throttling' }]),
    );
    const sqs = world.restoredAfterTest(recordSqsCommands());

    // Act
    const failed = await deliver(world.env, [message]);
    faults.restore();
    const back = await eventually(
      async () => {
        const received = await world.env.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: world.env.queueUrls.importQueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, AttributeNames: ['All'] }),
        );
        return received.Messages?.[0];
      },
      120_000,
      'the failed message to come back',
    );
    const retried = await deliver(world.env, [back]);
    await deleteMessages(world.env, [back]);

    // Assess: the worker made the message visible again in seconds; it came back and then imported
    expect(failed?.batchItemFailures).toEqual([{ itemIdentifier: message.MessageId }]);
    const shortened = sqs.commands.flatMap((c) => (c instanceof ChangeMessageVisibilityCommand ? [c.input] : []));
    expect(shortened.map((c) => c.ReceiptHandle)).toEqual([message.ReceiptHandle]);
    expect(shortened[0]!.QueueUrl).toBe(world.env.queueUrls.importQueueUrl);
    expect(shortened[0]!.VisibilityTimeout).toBeGreaterThan(0);
    expect(shortened[0]!.VisibilityTimeout).toBeLessThanOrEqual(30);
    expect(back.Body).toBe(message.Body);
    expect(retried?.batchItemFailures).toEqual([]);
    expect(await world.env.runs.get('throttled', runId)).toMatchObject({ status: 'completed', created: withEmail(personio.sim).length });
  }, 180_000);

  it('fails only the employee that lost a race for an existing Dado user’s email, not the message', async () => {
    // Prepare: a Dado user from before the integration, and two Personio employees who both give its email
    const personio = await world.personio('link-race');
    const [a, b] = withEmail(personio.sim);
    personio.sim.updateEmployee(a!.id, { email: 'Shared.Inbox@Example.com' });
    personio.sim.updateEmployee(b!.id, { email: 'shared.inbox@example.com' });
    await db.send(
      new PutCommand({
        TableName: localNames.usersTable,
        Item: {
          tenantId: 'link-race',
          sk: 'user#dado-7',
          userId: 'dado-7',
          email: 'shared.inbox@example.com',
          emailKey: 'shared.inbox@example.com',
          firstName: 'Shared',
          active: true,
          customFields: {},
        },
      }),
    );
    await personio.connect();
    const { runId, messages } = await fetchAndHold(world.env, { tenantId: 'link-race' }, { remove: true });
    expect(messages).toHaveLength(1);
    expect(idsIn(messages[0]!)).toEqual(expect.arrayContaining([a!.id, b!.id]));
    // One worker goes employee by employee for one address, so the race is between two messages: b in a message of
    // its own, as a larger tenant's fetch could have packed it
    const body = JSON.parse(messages[0]!.Body!) as { seq: number; employees: { id?: { value?: unknown } }[] };
    const isB = (e: { id?: { value?: unknown } }) => e.id?.value === b!.id;
    const split = [
      { ...messages[0]!, MessageId: 'without-b', Body: JSON.stringify({ ...body, employees: body.employees.filter((e) => !isB(e)) }) },
      { ...messages[0]!, MessageId: 'only-b', Body: JSON.stringify({ ...body, seq: 1, employees: body.employees.filter(isB) }) },
    ];
    await setMessagesSent('link-race', runId, 2);
    // Both have found the unlinked user by its email before either links it
    const linking = world.restoredAfterTest(
      holdDynamoCall((c) => c.constructor.name === 'TransactWriteCommand' && JSON.stringify(c.input).includes('"link-race"')),
    );

    // Act
    const delivering = Promise.all(split.map((m) => deliver(world.env, [m as Message])));
    await linking.arrivals(2);
    linking.release();
    const responses = await delivering;

    // Assess: both messages went through; one of the two is linked to the Dado user, the other is reported
    for (const response of responses) expect(response?.batchItemFailures).toEqual([]);
    const users = await world.env.users.list('link-race');
    const shared = users.find((u) => u.userId === 'dado-7');
    expect([a!.id, b!.id]).toContain(shared?.personioId);
    const loser = shared?.personioId === a!.id ? b!.id : a!.id;
    expect(users.filter((u) => u.personioId === loser)).toEqual([]);
    expect(users.find((u) => u.userId === personioUserId('link-race', loser))).toBeUndefined();
    const others = withEmail(personio.sim).filter((e) => e.id !== a!.id && e.id !== b!.id);
    for (const e of others)
      expect(
        users.find((u) => u.personioId === e.id),
        `employee ${e.id}`,
      ).toBeDefined();
    const run = await world.env.runs.get('link-race', runId);
    expect(run).toMatchObject({ status: 'completed', created: others.length, updated: 1 });
    const taken = run?.findings.find((f) => f.code === 'employees_email_taken');
    expect(taken?.message).toContain(String(loser));
  });

  it('completes a run that listed fewer employees than Personio counts with personio_list_incomplete, deactivating nobody', async () => {
    // Prepare: one employee leaves Personio, and another is counted in total_elements but shown on no page
    const personio = await world.personio('short-list');
    await personio.connect();
    expect((await importAll('short-list')).status).toBe('completed');
    const [leaver, hidden] = await activeIds('short-list');
    personio.sim.removeEmployees([leaver!]);
    personio.sim.setKnobs({ hiddenEmployeeIds: [hidden!] });

    // Act
    const report = await importAll('short-list');

    // Assess
    expect(report).toMatchObject({ status: 'completed', deactivated: 0 });
    expect(report.findings.map((f) => f.code)).toContain('personio_list_incomplete');
    const users = await world.env.users.list('short-list');
    expect(users.find((u) => u.personioId === leaver)).toMatchObject({ active: true });
    expect(users.find((u) => u.personioId === hidden)).toMatchObject({ active: true });
    expect(users.filter((u) => u.deactivationReason)).toEqual([]);
  });
});
