import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { sendConditional } from '../storage/conditional.js';
import { connectionKeys } from '../storage/tables.js';

/**
 * The part of a connection the receiver reads (`Connection.webhooks`, written by connect), parsed rather than trusted:
 * a record written before webhooks existed, or half-written, reads as "no active webhook", never as a pass.
 */
export const webhookStateSchema = z.object({
  status: z.string(),
  tokenHash: z.string().nullable().optional(),
  companyId: z.union([z.string(), z.number()]).nullable().optional(),
});

export type WebhookState = z.infer<typeof webhookStateSchema>;

/** The connection's webhook state, if it has a usable one. */
export function webhookStateOf(connection: unknown): WebhookState | undefined {
  const webhooks = typeof connection === 'object' && connection !== null ? (connection as { webhooks?: unknown }).webhooks : undefined;
  const parsed = webhookStateSchema.safeParse(webhooks);
  return parsed.success ? parsed.data : undefined;
}

/** The company a tenant's connection names, as text (Personio sends it as a string; a number is read as its digits). */
export function recordedCompany(state: WebhookState): string | undefined {
  const id = state.companyId;
  return id === null || id === undefined || id === '' ? undefined : String(id);
}

export interface CompanyRecords {
  /**
   * Records the tenant's Personio company, only if none is recorded yet and the webhook is still the one whose token
   * (`tokenHash`) the delivery presented: false when either changed since the connection was read.
   */
  record(tenantId: string, companyId: string, tokenHash: string): Promise<boolean>;
}

/**
 * Writes `webhooks.companyId` of a connection, and nothing else: the receiver's only write to the connections table
 * (its IAM policy allows UpdateItem on the `webhooks` attribute only).
 */
export class CompanyRecorder implements CompanyRecords {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  async record(tenantId: string, companyId: string, tokenHash: string): Promise<boolean> {
    return sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [connectionKeys.partition]: tenantId },
        UpdateExpression: 'SET #w.#c = :company',
        ConditionExpression: '#w.#h = :hash AND #w.#s = :active AND (attribute_not_exists(#w.#c) OR attribute_type(#w.#c, :null))',
        ExpressionAttributeNames: { '#w': 'webhooks', '#c': 'companyId', '#h': 'tokenHash', '#s': 'status' },
        ExpressionAttributeValues: { ':company': companyId, ':hash': tokenHash, ':active': 'active', ':null': 'NULL' },
      }),
    );
  }
}
