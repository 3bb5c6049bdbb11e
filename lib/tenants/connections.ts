import { GetCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Mapping } from '../mapping/mapping.js';
import { sendConditional } from '../storage/conditional.js';
import { CodedError } from '../util/errors.js';
import { readImportsPause, type ImportsPause } from './kill-switch.js';
import { CredentialHealth } from './credential-health.js';
import type { CredentialPause } from './pause.js';

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
  /**
   * The tenant's current run: it holds the tenant from its fetch until it is final (lib/runs/tenant-lock.ts). Until
   * the run's record exists (an accepted "import now" whose fetch has not started), `lockExpiresAt` bounds the claim.
   */
  activeRunId?: string;
  lockExpiresAt?: number;
  /** Increases with every change of the settings (mapping, readable attributes): saves are conditioned on it. */
  version?: number;
  /** When the stored credential was last replaced (a connect): a refusal of an older one says nothing about it. */
  credentialsAt?: string;
  /** Runs in a row whose fetch Personio refused the stored credential; a run that gets through or a reconnect resets it. */
  credentialFailures?: number;
  /** Set once `credentialFailures` reaches the deployment's threshold: scheduled imports try once a day (./pause.ts). */
  paused?: CredentialPause;
  /** The tenant's Personio webhook as connect last left it; absent on connections made before webhooks existed. */
  webhooks?: ConnectionWebhooks;
}

/**
 * The tenant's Personio webhook. The token itself lives only in the tenant's secret (`webhookToken`); the receiver
 * accepts a delivery only while `status` is active and the delivery's Authorization hashes to `tokenHash`.
 */
export interface ConnectionWebhooks {
  status: 'active' | 'unavailable';
  /** Why webhooks are unavailable and what to do about it; null while active. */
  reason: string | null;
  /** Personio's id of the webhook registered for the tenant; while unavailable, one that may still exist in Personio (deleted at the next connect), or null. */
  webhookId: string | null;
  /** sha256 hex of the registered token; null whenever no delivery may be accepted. */
  tokenHash: string | null;
  /** The tenant's Personio company (the receiver records it from the first authenticated delivery); null until known. */
  companyId: string | null;
  updatedAt: string;
}

export interface OpenRuns {
  tenantId: string;
  activeRunId: string | undefined;
  lockExpiresAt: number | undefined;
  approvingRunId: string | undefined;
}

export class ConnectionError extends CodedError<'conflict'> {
  override readonly name = 'ConnectionError';
}

export function maskClientId(clientId: string): string {
  const id = clientId.trim();
  if (id.length <= 8) return '*'.repeat(id.length);
  return `${id.slice(0, 4)}${'*'.repeat(Math.min(id.length - 8, 12))}${id.slice(-4)}`;
}

export class ConnectionStore {
  /** What Personio's answers to the stored credential did to the connection: status, failures in a row, pause. */
  readonly credentialHealth: CredentialHealth;

  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {
    this.credentialHealth = new CredentialHealth(db, tableName);
  }

  async get(tenantId: string): Promise<Connection | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { tenantId }, ConsistentRead: true }));
    return result.Item as Connection | undefined;
  }

  /**
   * Saves a (re)connect's settings whole, keeping the tenant's current run; a new version, whatever was there. A new
   * credential starts with a clean record: no failures counted, not paused.
   */
  async save(connection: Omit<Connection, 'activeRunId' | 'lockExpiresAt' | 'version' | 'credentialsAt' | 'credentialFailures' | 'paused'>): Promise<void> {
    // The webhook state is replaced whole when given (a connect always gives it); left alone otherwise.
    const webhooks = connection.webhooks === undefined ? '' : ', webhooks = :webhooks';
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId: connection.tenantId },
        UpdateExpression: `SET #status = :status, clientIdMasked = :masked, mapping = :mapping, readableAttributes = :readable, connectedAt = if_not_exists(connectedAt, :connectedAt), updatedAt = :updatedAt, credentialsAt = :updatedAt${webhooks} ADD version :one REMOVE credentialFailures, paused`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': connection.status,
          ':masked': connection.clientIdMasked,
          ':mapping': connection.mapping,
          ':readable': connection.readableAttributes,
          ':connectedAt': connection.connectedAt,
          ':updatedAt': connection.updatedAt,
          ':one': 1,
          ...(connection.webhooks === undefined ? {} : { ':webhooks': connection.webhooks }),
        },
      }),
    );
  }

  /**
   * Changes only the given settings, and only if nobody changed the connection since `expected` was read (its
   * version) and it is not disconnected: a lost race is a `conflict`, never a silent revert of the other change.
   */
  async updateSettings(
    expected: Pick<Connection, 'tenantId' | 'version'>,
    changes: Partial<Pick<Connection, 'mapping' | 'readableAttributes'>>,
    now: Date,
  ): Promise<void> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':now': now.toISOString(), ':one': 1, ':disconnected': 'disconnected' };
    const sets = ['updatedAt = :now'];
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    let condition = 'attribute_exists(tenantId) AND #status <> :disconnected AND ';
    if (expected.version === undefined) condition += 'attribute_not_exists(version)';
    else {
      condition += 'version = :version';
      values[':version'] = expected.version;
    }
    const applied = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId: expected.tenantId },
        UpdateExpression: `SET ${sets.join(', ')} ADD version :one`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    if (!applied)
      throw new ConnectionError(
        'conflict',
        `The Personio connection of tenant ${expected.tenantId} changed while this change was made (or was disconnected); nothing was saved.`,
      );
  }

  /**
   * Personio refused the stored credential in one of connect's own calls with it: the status says so (not counted
   * towards a pause; only runs are). The rules are CredentialHealth's.
   */
  async markCredentialsInvalid(tenantId: string, now: Date, credentialsAt?: string): Promise<void> {
    await this.credentialHealth.markInvalid(tenantId, now, credentialsAt);
  }

  /** A run's fetch got through with the stored credential `credentialsAt`: the refusal, its count and any pause end. */
  async markCredentialsValid(tenantId: string, now: Date, credentialsAt?: string): Promise<void> {
    await this.credentialHealth.markValid(tenantId, now, credentialsAt);
  }

  /** The stage's kill switch, kept in this table (./kill-switch.ts): the pause in force, or undefined. */
  async importsPause(): Promise<ImportsPause | undefined> {
    return readImportsPause(this.db, this.tableName);
  }

  /**
   * Points the tenant at a new current run, if it has none (or already points at this one: the fetch of an accepted
   * "import now"). A disconnected tenant cannot start one. `lockExpiresAt` bounds the claim until the run's record
   * exists. Answers the run that holds the tenant otherwise.
   */
  async claimRun(
    tenantId: string,
    runId: string,
    lockExpiresAt: number,
  ): Promise<{ claimed: true } | { claimed: false; heldBy: string | undefined; lockExpiresAt: number | undefined }> {
    const claimed = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET activeRunId = :run, lockExpiresAt = :exp',
        ConditionExpression: 'attribute_exists(tenantId) AND #status <> :disconnected AND (attribute_not_exists(activeRunId) OR activeRunId = :run)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':run': runId, ':exp': lockExpiresAt, ':disconnected': 'disconnected' },
      }),
    );
    if (claimed) return { claimed: true };
    const current = await this.get(tenantId);
    return { claimed: false, heldBy: current?.activeRunId, lockExpiresAt: current?.lockExpiresAt };
  }

  /** Frees the tenant if `runId` still holds it (a newer run's claim is left alone). */
  async releaseRun(tenantId: string, runId: string): Promise<void> {
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

  /**
   * Notes a run being approved, so that an approval whose caller died is found and finished by the sweeper even if
   * nobody approves again (a held run does not hold the tenant, so the current-run pointer does not cover it).
   */
  async noteApproval(tenantId: string, runId: string): Promise<void> {
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET approvingRunId = :run',
        ConditionExpression: 'attribute_exists(tenantId)',
        ExpressionAttributeValues: { ':run': runId },
      }),
    );
  }

  async clearApproval(tenantId: string, runId: string): Promise<void> {
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'REMOVE approvingRunId',
        ConditionExpression: 'approvingRunId = :run',
        ExpressionAttributeValues: { ':run': runId },
      }),
    );
  }

  /**
   * Tenants with a run that may need settling (a current run, or one being approved): what the sweeper visits. A
   * scan with a projection: it reads every connection item, which at thousands of tenants every few minutes costs
   * cents a day; a sparse index is the way on if that ever matters.
   */
  async withOpenRuns(): Promise<OpenRuns[]> {
    const found: OpenRuns[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: 'tenantId, activeRunId, lockExpiresAt, approvingRunId',
          FilterExpression: 'attribute_exists(activeRunId) OR attribute_exists(approvingRunId)',
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const text = (key: string) => (typeof item[key] === 'string' ? (item[key] as string) : undefined);
        const lockExpiresAt = typeof item['lockExpiresAt'] === 'number' ? item['lockExpiresAt'] : undefined;
        found.push({ tenantId: String(item['tenantId']), activeRunId: text('activeRunId'), lockExpiresAt, approvingRunId: text('approvingRunId') });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return found;
  }
}
