import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Mapping } from '../mapping/mapping.js';
import { sendConditional } from '../storage/conditional.js';

export type ConnectionStatus = 'connected' | 'disconnected' | 'invalid_credentials';

export interface Connection {
  tenantId: string;
  status: ConnectionStatus;
  /** First and last characters only: enough for an admin to recognise the credential. */
  clientIdMasked: string;
  mapping: Mapping;
  readableAttributes: string[];
  connectedAt: string;
  updatedAt: string;
  /** The run whose fetch holds the tenant's lock, and until when (a crashed fetch must not block forever). */
  activeRunId?: string;
  lockExpiresAt?: number;
}

export function maskClientId(clientId: string): string {
  const id = clientId.trim();
  if (id.length <= 8) return '*'.repeat(id.length);
  return `${id.slice(0, 4)}${'*'.repeat(Math.min(id.length - 8, 12))}${id.slice(-4)}`;
}

export class ConnectionStore {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async get(tenantId: string): Promise<Connection | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { tenantId }, ConsistentRead: true }));
    return result.Item as Connection | undefined;
  }

  /** Saves the connection's settings, keeping a running fetch's lock. */
  async save(connection: Omit<Connection, 'activeRunId' | 'lockExpiresAt'>): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId: connection.tenantId },
        UpdateExpression:
          'SET #status = :status, clientIdMasked = :masked, mapping = :mapping, readableAttributes = :readable, connectedAt = if_not_exists(connectedAt, :connectedAt), updatedAt = :updatedAt',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': connection.status,
          ':masked': connection.clientIdMasked,
          ':mapping': connection.mapping,
          ':readable': connection.readableAttributes,
          ':connectedAt': connection.connectedAt,
          ':updatedAt': connection.updatedAt,
        },
      }),
    );
  }

  async setStatus(tenantId: string, status: ConnectionStatus, now: Date): Promise<void> {
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET #status = :status, updatedAt = :now',
        ConditionExpression: 'attribute_exists(tenantId)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':now': now.toISOString() },
      }),
    );
  }

  /**
   * Takes the tenant's fetch lock for a run; answers the run that holds it when it is taken. The lock
   * expires so that a fetch killed by its timeout cannot block the tenant's imports forever.
   */
  async acquireFetchLock(tenantId: string, runId: string, now: number, ttlMs: number): Promise<{ acquired: true } | { acquired: false; heldBy: string | undefined }> {
    const acquired = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET activeRunId = :run, lockExpiresAt = :exp',
        ConditionExpression: 'attribute_exists(tenantId) AND (attribute_not_exists(activeRunId) OR lockExpiresAt < :now)',
        ExpressionAttributeValues: { ':run': runId, ':exp': now + ttlMs, ':now': now },
      }),
    );
    if (acquired) return { acquired: true };
    const current = await this.get(tenantId);
    return { acquired: false, heldBy: current?.activeRunId };
  }

  async releaseFetchLock(tenantId: string, runId: string): Promise<void> {
    // Refused when someone else holds it now (ours expired): leave theirs alone.
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'REMOVE activeRunId, lockExpiresAt',
        ConditionExpression: 'activeRunId = :run',
        ExpressionAttributeValues: { ':run': runId },
      }),
    );
  }
}
