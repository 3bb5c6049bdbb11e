import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The stage's kill switch: while this item exists in the connections table, no import starts (every fetch ends without
 * a run or a Personio call, "import now" answers 503 `imports_paused`). Operators set and clear it without a deploy
 * (ops/imports-switch.ts, or the `aws dynamodb put-item` / `delete-item` lines in infra/README.md). Its key is one no
 * tenant id can take (tenant ids are lower-case letters, digits and inner hyphens: lib/tenants/tenant-id.ts), and no
 * code lists the table's items as tenants without a filter that leaves it out (the sweeper's scan looks for runs).
 *
 * The item's presence is the switch: an item written by hand without the optional fields still pauses. Every fetch
 * reads it with one consistent GetItem, beside its read of the connection; at 5,000 tenants an hour that is about
 * 120,000 reads a day, well under a dollar a month, so no cache keeps an operator's flip from taking effect at once.
 */
export const IMPORTS_SWITCH_KEY = '#imports';

export interface ImportsPause {
  /** When an operator paused imports (absent if the item was written without it). */
  since?: string;
  /** The operator's note: for operators only, never shown to customers. */
  reason?: string;
}

type Db = Pick<DynamoDBDocumentClient, 'send'>;

/** The pause in force, or undefined when imports run. */
export async function readImportsPause(db: Db, tableName: string): Promise<ImportsPause | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: tableName, Key: { tenantId: IMPORTS_SWITCH_KEY }, ConsistentRead: true }));
  if (!Item) return undefined;
  const text = (key: string) => (typeof Item[key] === 'string' ? { [key]: Item[key] as string } : {});
  return { ...text('since'), ...text('reason') };
}

export async function pauseImports(db: Db, tableName: string, pause: { since: Date; reason: string }): Promise<void> {
  await db.send(new PutCommand({ TableName: tableName, Item: { tenantId: IMPORTS_SWITCH_KEY, since: pause.since.toISOString(), reason: pause.reason } }));
}

export async function resumeImports(db: Db, tableName: string): Promise<void> {
  await db.send(new DeleteCommand({ TableName: tableName, Key: { tenantId: IMPORTS_SWITCH_KEY } }));
}
