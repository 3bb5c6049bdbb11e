import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/identity.js';
import { startSqs, type LocalSqs } from '../../local/aws/sqs.js';
import type { PersonioEmployee } from '../../lib/personio/employee.js';
import { MessagePacker, type PackedMessage } from '../../lib/queue/packer.js';
import { QueueError, QueueSender } from '../../lib/queue/sender.js';
import { faultySqs, type SqsFaultRule } from '../helpers/faulty-sqs.js';
import { rejectionOf } from '../helpers/rejection.js';

/**
 * QueueSender against local-aws-sqs, with what only real SQS does (partial batch failures, refused characters,
 * throttling) injected by faultySqs at the SDK's edge.
 */

let local: LocalSqs;
let sqs: SQSClient;
let queues = 0;

beforeAll(async () => {
  local = await startSqs({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID });
  sqs = new SQSClient({ endpoint: local.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});

afterAll(async () => {
  sqs?.destroy();
  await local?.close();
});

async function newQueue(): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `sender-${process.pid}-${++queues}` }));
  return QueueUrl!;
}

/** Every body on the queue, taken off it. */
async function drainBodies(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body!));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
  }
}

/** Small stand-ins for packed messages: the sender only reads seq, body and bytes. */
function messages(count: number, body = (seq: number) => JSON.stringify({ seq })): PackedMessage[] {
  return Array.from({ length: count }, (_, seq) => ({ seq, body: body(seq), bytes: Buffer.byteLength(body(seq)), employees: 1 }));
}

const seqsOf = (bodies: string[]): number[] => bodies.map((b) => (JSON.parse(b) as { seq: number }).seq).sort((a, b) => a - b);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

async function setUp(rules: SqsFaultRule[], maxAttempts?: number) {
  const queueUrl = await newQueue();
  const faulty = faultySqs(sqs, rules);
  const sleeps: number[] = [];
  const sender = new QueueSender({ sqs: faulty, queueUrl, ...(maxAttempts !== undefined && { maxAttempts }), sleep: async (ms) => void sleeps.push(ms) });
  return { queueUrl, faulty, sleeps, sender };
}

describe('QueueSender', () => {
  it('re-sends entries SQS failed on its side until each lands exactly once, and counts each once', async () => {
    // Prepare: even entries fail in the first two calls, and m21 once more whenever it comes.
    const { queueUrl, faulty, sleeps, sender } = await setUp([
      { kind: 'fail-entries', code: 'InternalError', calls: 2, match: (e) => Number(e.Id!.slice(1)) % 2 === 0 },
      { kind: 'fail-entries', code: 'ServiceUnavailable', match: (e) => e.Id === 'm21', times: 1 },
    ]);

    // Act
    await sender.add(messages(25));
    await sender.flush();

    // Assess
    expect(faulty.injected.length).toBeGreaterThan(5);
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sender.sent).toBe(25);
    expect(seqsOf(await drainBodies(queueUrl))).toEqual(range(25));
  });

  it('fails with send_failed on a sender fault, naming no body, and counts only what landed', async () => {
    // Prepare: a raw U+FFFF, as the packer once let through; real SQS refuses it.
    const marker = 'Zoë Geheimname';
    const { queueUrl, faulty, sender } = await setUp([{ kind: 'refuse-invalid-characters' }]);
    const batch = messages(5, (seq) => (seq === 3 ? JSON.stringify({ seq, name: `${marker}\uFFFF` }) : JSON.stringify({ seq })));

    // Act
    await sender.add(batch);
    const error = await rejectionOf(sender.flush());

    // Assess
    expect(error).toBeInstanceOf(QueueError);
    expect((error as QueueError).code).toBe('send_failed');
    expect(error.message).toContain('InvalidMessageContents');
    expect(error.message).not.toContain(marker);
    expect(error.message).not.toContain('"seq"');
    expect(faulty.batchCalls).toBe(1);
    expect(sender.sent).toBe(4);
    expect(seqsOf(await drainBodies(queueUrl))).toEqual([0, 1, 2, 4]);
  });

  it('fails at once on a sender fault even when other entries of the batch could be re-sent', async () => {
    // Prepare
    const { queueUrl, faulty, sleeps, sender } = await setUp([
      { kind: 'fail-entries', code: 'InternalError', match: (e) => e.Id === 'm2' },
      { kind: 'fail-entries', code: 'InvalidParameterValue', senderFault: true, match: (e) => e.Id === 'm4' },
    ]);

    // Act
    await sender.add(messages(6));
    const error = await rejectionOf(sender.flush());

    // Assess
    expect(error.message).toBe('SQS refused 2 message(s) after a sender fault: InvalidParameterValue.');
    expect(faulty.batchCalls).toBe(1);
    expect(sleeps).toEqual([]);
    expect(sender.sent).toBe(4);
    expect(seqsOf(await drainBodies(queueUrl))).toEqual([0, 1, 3, 5]);
  });

  it('gives up with send_failed after maxAttempts, having counted the entries that did land', async () => {
    // Prepare
    const { queueUrl, faulty, sleeps, sender } = await setUp([{ kind: 'fail-entries', code: 'InternalError', match: (e) => e.Id === 'm2' }], 3);

    // Act
    await sender.add(messages(5));
    const error = await rejectionOf(sender.flush());

    // Assess
    expect(error).toBeInstanceOf(QueueError);
    expect(error.message).toBe('SQS refused 1 message(s) after 3 attempt(s): InternalError.');
    expect(faulty.batchCalls).toBe(3);
    expect(sleeps).toEqual([200, 400]);
    expect(sender.sent).toBe(4);
    expect(seqsOf(await drainBodies(queueUrl))).toEqual([0, 1, 3, 4]);
  });

  it('lets a throttled call (the SDK gave up) propagate, with only the earlier batch counted', async () => {
    // Prepare: the first batch of ten lands, the second call throws.
    const { queueUrl, faulty, sleeps, sender } = await setUp([{ kind: 'throttle', after: 1, calls: 1 }]);

    // Act
    const error = await rejectionOf(sender.add(messages(15)).then(() => sender.flush()));

    // Assess
    expect(error.name).toBe('RequestThrottled');
    expect(faulty.injected).toEqual([{ call: 2, kind: 'throttle', code: 'RequestThrottled' }]);
    expect(sleeps).toEqual([]);
    expect(sender.sent).toBe(10);
    expect(seqsOf(await drainBodies(queueUrl))).toEqual(range(10));
  });

  it("delivers what the packer made of employees with U+FFFE/U+FFFF past real SQS's character check, exactly once each", async () => {
    // Prepare
    const { queueUrl, faulty, sender } = await setUp([
      { kind: 'refuse-invalid-characters' },
      { kind: 'fail-entries', code: 'InternalError', calls: 1, match: (e) => e.Id === 'm1' },
    ]);
    const employees: PersonioEmployee[] = Array.from({ length: 30 }, (_, i) => ({
      id: { value: i + 1, type: 'integer' },
      last_name: { value: `Nachname\uFFFF${i}\uFFFE`, type: 'standard' },
    }));
    const packer = new MessagePacker({ tenantId: 'acme', runId: 'run-1', fetchedAt: '2026-11-25T00:00:00.000Z' }, 400);

    // Act
    for (const e of employees) await sender.add(packer.add(e));
    await sender.add(packer.flush());
    await sender.flush();

    // Assess
    const bodies = (await drainBodies(queueUrl)).map((b) => JSON.parse(b) as { seq: number; employees: PersonioEmployee[] }).sort((a, b) => a.seq - b.seq);
    expect(faulty.injected.map((f) => f.code)).toEqual(['InternalError']);
    expect(bodies.length).toBeGreaterThan(2);
    expect(sender.sent).toBe(bodies.length);
    expect(bodies.map((b) => b.seq)).toEqual(range(bodies.length));
    expect(bodies.flatMap((b) => b.employees)).toEqual(employees);
  });

  it('re-sends an entry SQS confirmed in neither list rather than count it as sent', async () => {
    // Prepare: not something SQS is known to do, so a stub at the SDK's edge drops m1 from the first answer.
    const queueUrl = await newQueue();
    let calls = 0;
    const send = (async (command: SendMessageBatchCommand) => {
      const output = await sqs.send(command);
      return ++calls === 1 ? { ...output, Successful: output.Successful?.filter((e) => e.Id !== 'm1') } : output;
    }) as SQSClient['send'];
    const sender = new QueueSender({ sqs: { send }, queueUrl, sleep: async () => {} });

    // Act
    await sender.add(messages(3));
    await sender.flush();

    // Assess: m1 landed twice (the worker drops the duplicate by run and seq), and counts once.
    expect(calls).toBe(2);
    expect(sender.sent).toBe(3);
    expect(seqsOf(await drainBodies(queueUrl))).toEqual([0, 1, 1, 2]);
  });
});
