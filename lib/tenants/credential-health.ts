import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed, sendConditional } from '../storage/conditional.js';
import { attemptCutoff, type CredentialPause } from './pause.js';

/**
 * The connection item's record of how Personio answers the tenant's stored credential: `status` (`invalid_credentials`
 * while refused), `credentialFailures` (runs in a row refused) and `paused` (./pause.ts). Every rule is in the writes'
 * conditions, not in a caller: nothing here ever overwrites `disconnected`, and a refusal or a success of a credential
 * replaced since (`credentialsAt`, as the caller read it before using the credential) changes nothing, so a rotation
 * during a run is never marked invalid, counted or paused.
 */
export class CredentialHealth {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  /**
   * Personio refused the stored credential (connect's own calls with it): shown to admins until an import succeeds
   * again. Never over `disconnected`, and never for a credential replaced since `credentialsAt` (the one the caller
   * read and used). Not counted towards a pause: only runs are.
   */
  async markInvalid(tenantId: string, now: Date, credentialsAt?: string): Promise<void> {
    const same = sameCredential(credentialsAt);
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET #status = :invalid, updatedAt = :now',
        ConditionExpression: `#status = :connected AND ${same.condition}`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':invalid': 'invalid_credentials', ':connected': 'connected', ':now': now.toISOString(), ...same.values },
      }),
    );
  }

  /**
   * A run's fetch found the stored credential refused: the status says so and one more failure in a row is counted;
   * at `pauseAfter` the tenant is paused. The same rules as above hold in both writes' conditions, and the pause is
   * written only while the item's own count has reached the threshold (a reconnect or a success in between resets it).
   * Answers the count and whether the tenant is paused; undefined when the failure was not this credential's to record.
   */
  async recordFailure(
    tenantId: string,
    credentialsAt: string | undefined,
    pauseAfter: number,
    now: Date,
  ): Promise<{ failures: number; paused: boolean } | undefined> {
    const same = sameCredential(credentialsAt);
    const names = { '#status': 'status' };
    let counted: Record<string, unknown> | undefined;
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { tenantId },
          UpdateExpression: 'SET #status = :invalid, updatedAt = :now ADD credentialFailures :one',
          ConditionExpression: `attribute_exists(tenantId) AND #status <> :disconnected AND ${same.condition}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ':invalid': 'invalid_credentials',
            ':disconnected': 'disconnected',
            ':now': now.toISOString(),
            ':one': 1,
            ...same.values,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      counted = result.Attributes;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
    const failures = typeof counted?.['credentialFailures'] === 'number' ? counted['credentialFailures'] : 0;
    if (counted?.['paused'] !== undefined) return { failures, paused: true };
    if (failures < pauseAfter) return { failures, paused: false };
    const pause: CredentialPause = { since: now.toISOString(), reason: 'invalid_credentials', lastAttemptAt: now.toISOString() };
    const paused = await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET paused = :pause',
        ConditionExpression: `#status = :invalid AND credentialFailures >= :threshold AND attribute_not_exists(paused) AND ${same.condition}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':pause': pause, ':invalid': 'invalid_credentials', ':threshold': pauseAfter, ...same.values },
      }),
    );
    return { failures, paused };
  }

  /**
   * A run's fetch got through with the stored credential: whatever refused it before has passed, the count of failures
   * and any pause end. Only for the credential the run used (a reconnect since has reset everything itself).
   */
  async markValid(tenantId: string, now: Date, credentialsAt?: string): Promise<void> {
    const same = sameCredential(credentialsAt);
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET #status = :connected, updatedAt = :now REMOVE credentialFailures, paused',
        ConditionExpression: `attribute_exists(tenantId) AND #status <> :disconnected AND (#status = :invalid OR attribute_exists(credentialFailures) OR attribute_exists(paused)) AND ${same.condition}`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':connected': 'connected',
          ':invalid': 'invalid_credentials',
          ':disconnected': 'disconnected',
          ':now': now.toISOString(),
          ...same.values,
        },
      }),
    );
  }

  /**
   * Takes a paused tenant's daily attempt for a scheduled firing at `now`: false when an attempt was made within the
   * last day, or the tenant is no longer paused (this firing then starts nothing; the next one runs as usual).
   */
  async claimAttempt(tenantId: string, now: Date): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: 'SET paused.lastAttemptAt = :now',
        ConditionExpression: 'attribute_exists(paused) AND paused.lastAttemptAt <= :cutoff AND #status <> :disconnected',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':now': now.toISOString(), ':cutoff': attemptCutoff(now), ':disconnected': 'disconnected' },
      }),
    );
  }
}

/** The condition that the stored credential is still the one read as `credentialsAt` (none: never replaced since). */
function sameCredential(credentialsAt: string | undefined): { condition: string; values: Record<string, string> } {
  return credentialsAt === undefined
    ? { condition: 'attribute_not_exists(credentialsAt)', values: {} }
    : { condition: 'credentialsAt = :credentialsAt', values: { ':credentialsAt': credentialsAt } };
}
