import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { defaultMapping } from '../../lib/mapping/mapping.js';
import { queryByPrefix } from '../../lib/storage/query.js';
import { hookPrefix } from '../../lib/storage/tables.js';
import { type ConnectionStatus, type ConnectionWebhooks, ConnectionStore } from '../../lib/tenants/connections.js';
import { type ChangeMessage, changeMessageSchema } from '../../lib/webhooks/change.js';
import { CompanyRecorder } from '../../lib/webhooks/company.js';
import { DedupeStore } from '../../lib/webhooks/dedupe.js';
import type { ReceiveDeps } from '../../lib/webhooks/receive.js';
import { ChangesQueueSender } from '../../lib/webhooks/sender.js';
import { hashToken, newWebhookToken } from '../../lib/webhooks/token.js';
import { startLocalStack, type LocalStack } from '../../local/aws/stack.js';
import { localNames } from '../../local/runner/environment.js';

/** DynamoDB Local and local SQS, the tables provisioned, the SDK pointed at them (process.env). */
export interface WebhookStack {
  stack: LocalStack;
  db: DynamoDBDocumentClient;
  sqs: SQSClient;
  connections: ConnectionStore;
}

export async function startWebhookStack(): Promise<WebhookStack> {
  const stack = await startLocalStack();
  await stack.provision(localNames);
  Object.assign(process.env, stack.env);
  const db = createDocumentClient();
  return { stack, db, sqs: new SQSClient({}), connections: new ConnectionStore(db, localNames.connectionsTable) };
}

let queues = 0;

/** A fresh changes queue (one per test: what a test finds there is its own). */
export async function createChangesQueue(sqs: SQSClient): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `changes-${process.pid}-${++queues}` }));
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return QueueUrl;
}

/** The receiver's deps on the local stack; `sqs` and `db` (the dedupe store's) may be faulty wrappers of the real clients. */
export function receiverDeps(
  env: WebhookStack,
  queueUrl: string,
  sqs: Pick<SQSClient, 'send'> = env.sqs,
  db: Pick<DynamoDBDocumentClient, 'send'> = env.db,
): ReceiveDeps {
  return {
    connections: env.connections,
    dedupe: new DedupeStore(db, localNames.runsTable),
    changes: new ChangesQueueSender(sqs, queueUrl),
    companies: new CompanyRecorder(env.db, localNames.connectionsTable),
    now: () => new Date(),
  };
}

export const COMPANY = '4711';

/** A connected tenant with an active webhook; answers its token. `webhooks: null` leaves them out (an older connection). */
export async function seedTenant(
  env: WebhookStack,
  tenantId: string,
  options: { status?: ConnectionStatus; webhooks?: Partial<ConnectionWebhooks> | null } = {},
): Promise<string> {
  const token = newWebhookToken();
  const now = new Date().toISOString();
  const webhooks: ConnectionWebhooks = {
    status: 'active',
    reason: null,
    webhookId: '0b5c9f6e-1c1e-4a7e-9d55-2f7f3a3b1c11',
    tokenHash: hashToken(token),
    companyId: COMPANY,
    updatedAt: now,
    ...options.webhooks,
  };
  await env.connections.save({
    tenantId,
    status: options.status ?? 'connected',
    clientIdMasked: 'pers****abcd',
    mapping: defaultMapping(),
    readableAttributes: ['email', 'first_name', 'last_name'],
    connectedAt: now,
    updatedAt: now,
    ...(options.webhooks === null ? {} : { webhooks }),
  });
  return token;
}

/** A Personio delivery body, as text: by default the entity-keyed payload the simulator sends. */
export function delivery(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    company_id: COMPANY,
    event_name: 'person.updated',
    occurred_at: '2026-11-30T10:15:00.123Z',
    payload: { person: { id: '1234' } },
    meta: { attempt: 1 },
    ...overrides,
  });
}

/** The dedupe items a tenant has in the runs table. */
export async function hookItems(env: WebhookStack, tenantId: string): Promise<Record<string, unknown>[]> {
  return queryByPrefix(env.db, { tableName: localNames.runsTable, tenantId, prefix: hookPrefix, consistentRead: true });
}

/** Messages in the queue, visible or in flight. */
export async function depth(env: WebhookStack, queueUrl: string): Promise<number> {
  const { Attributes } = await env.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}

/** Takes every message off the queue, parsed with the change schema (what the refresh will do). */
export async function drainChanges(env: WebhookStack, queueUrl: string): Promise<ChangeMessage[]> {
  const changes: ChangeMessage[] = [];
  for (;;) {
    const { Messages = [] } = await env.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) return changes;
    for (const message of Messages) {
      changes.push(changeMessageSchema.parse(JSON.parse(message.Body ?? '')));
      await env.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}
