import { PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isFirstTransactConditionFailed, isTransactConditionFailedAt, sendConditional } from '../storage/conditional.js';
import { setExpression } from '../storage/expressions.js';
import { linkSk, userSk } from '../storage/tables.js';
import type { StoredUser } from './user.js';

/**
 * The DynamoDB writes of an import's upserts (lib/users/employee-upsert.ts decides which). Each is conditioned so that
 * duplicate, concurrent or late deliveries cannot undo one another, and answers a refused condition rather than
 * throwing it: what a refusal means is the caller's to decide.
 */
export class UserWrites {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  /** Writes a user's values, versioned by the fetch time of their data; false when newer data is there already. */
  async update(tenantId: string, userId: string, values: Record<string, unknown>, email: string | null, fetchedAt: string, now: string): Promise<boolean> {
    const set = setExpression(values);
    // The address is the user's key in the email index: a user without one (it passed to a newer employee) has none.
    const emailKey = email ? { ':emailKey': email.toLowerCase() } : {};
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(userId) },
        UpdateExpression: `SET ${set.expression}, createdAt = if_not_exists(createdAt, :now)${email ? ', emailKey = :emailKey' : ''}${email ? '' : ' REMOVE emailKey'}`,
        // Never let an older message's data replace data fetched later.
        ConditionExpression: 'attribute_not_exists(syncedAt) OR syncedAt <= :fetchedAt',
        ExpressionAttributeNames: set.names,
        ExpressionAttributeValues: { ...set.values, ...emailKey, ':fetchedAt': fetchedAt, ':now': now },
      }),
    );
  }

  /**
   * Records that data fetched at `fetchedAt` found the user unchanged: syncedAt only, and only forwards (false when the
   * user is gone or holds data fetched at or after it). No contract field moves, so no change event is published.
   */
  async touch(tenantId: string, userId: string, fetchedAt: string): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId, sk: userSk(userId) },
        UpdateExpression: 'SET syncedAt = :fetchedAt',
        ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(syncedAt) OR syncedAt < :fetchedAt)',
        ExpressionAttributeValues: { ':fetchedAt': fetchedAt },
      }),
    );
  }

  /**
   * Creates the user; false when its item exists. The derived id makes this put the uniqueness check: a concurrent
   * delivery of the same employee targets the same item, and only one of them can create it.
   */
  async create(user: StoredUser): Promise<boolean> {
    return sendConditional(this.db, new PutCommand({ TableName: this.tableName, Item: user, ConditionExpression: 'attribute_not_exists(sk)' }));
  }

  /**
   * Links an existing Dado user to a Personio employee: the link item and the user's personioId in one transaction.
   * `linked_before`: the link item exists already (another delivery linked this employee first). `user_taken`: the
   * user was linked to another Personio employee meanwhile (a race on one address).
   */
  async link(tenantId: string, userId: string, personioId: number): Promise<'linked' | 'linked_before' | 'user_taken'> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: { TableName: this.tableName, Item: { tenantId, sk: linkSk(personioId), userId }, ConditionExpression: 'attribute_not_exists(sk)' },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: { tenantId, sk: userSk(userId) },
                UpdateExpression: 'SET personioId = :pid',
                ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(personioId) OR personioId = :pid)',
                ExpressionAttributeValues: { ':pid': personioId },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (isFirstTransactConditionFailed(error)) return 'linked_before';
      if (isTransactConditionFailedAt(error, 1)) return 'user_taken';
      throw error;
    }
    return 'linked';
  }
}
