import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ScheduleInterval } from '../schedules/schedules.js';
import type { ConnectionStatus } from '../tenants/connections.js';
import type { Who } from './caller.js';
import { ConnectError } from './errors.js';

/** What an entry says changed. Only ids, field names, attribute keys, settings and masked client ids: never a secret or an employee's value. */
export type AuditChange =
  | {
      /** `connected`: the tenant had no live connection (never connected, or disconnected); `reconnected`: new credentials replaced live ones. */
      action: 'connected' | 'reconnected';
      /** `webhooks`: whether the connect registered the tenant's webhook (absent on entries written before webhooks). */
      details: { clientId: string; previousClientId: string | null; appId: string | null; webhooks?: 'active' | 'unavailable' };
    }
  | { action: 'mapping_saved'; details: { changes: { field: string; from: string | null; to: string | null }[] } }
  | {
      action: 'schedule_changed';
      details: { enabled: boolean; every: ScheduleInterval | 'custom'; previous: { enabled: boolean; every: ScheduleInterval | 'custom' } | null };
    }
  | { action: 'import_started'; details: { runId: string } }
  | { action: 'run_approved'; details: { runId: string; deactivated: number } }
  | { action: 'disconnected'; details: { clientId: string; previousStatus: ConnectionStatus; webhooks?: 'deleted' | 'not_deleted' | 'none' } };

export type AuditAction = AuditChange['action'];

export type AuditEntry = {
  /** Unique within the tenant; the entries' order (newest first) is this id's. */
  id: string;
  at: string;
} & Who &
  AuditChange;

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) entries; null when there are none. */
  nextCursor: string | null;
}

export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 100;

/** `<ISO time>#<uuid>`: sorts by time, and two changes in one millisecond still get two entries. */
const ENTRY_ID = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The cursor is opaque to callers (they must not build one), but it is just the last entry's id. */
const toCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

function fromCursor(cursor: string): string {
  const id = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!ENTRY_ID.test(id))
    throw new ConnectError('invalid_request', 'cursor: not a cursor this API gave; pass nextCursor from the previous page as it was', [
      { field: 'cursor', message: 'not a cursor this API gave; pass nextCursor from the previous page as it was' },
    ]);
  return id;
}

/**
 * Who changed what on a tenant's connection (the audit table: pk tenantId, sk the entry id). Entries are only
 * ever added; nothing here updates or deletes one.
 *
 * Recording happens after the change succeeded, so a failure to record cannot undo it. Answering 500 then would
 * tell the admin the change failed when it did not (and a retried import or approval would not be recorded
 * either), so `record` never throws: the entry goes to `unrecorded` instead, which the handler writes as an error
 * log line carrying the whole entry (it holds nothing secret), kept with the function's logs and counted in AuditEntriesNotStored, which alarms (infra/README.md).
 */
export class AuditTrail {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
    private readonly unrecorded: (entry: AuditEntry & { tenantId: string }, error: unknown) => void,
  ) {}

  async record(tenantId: string, who: Who, change: AuditChange, now: Date): Promise<void> {
    const at = now.toISOString();
    const entry = { id: `${at}#${randomUUID()}`, at, actor: who.actor, caller: who.caller, ...change } as AuditEntry;
    const { id, ...rest } = entry;
    try {
      // The client retries contention and throttling with back-off (functions/shared/clients.ts).
      await this.db.send(new PutCommand({ TableName: this.tableName, Item: { tenantId, sk: id, ...rest } }));
    } catch (error) {
      this.unrecorded({ tenantId, ...entry }, error);
    }
  }

  /** The tenant's entries, newest first; a tenant without any (or unknown) has an empty list. */
  async list(tenantId: string, page: { limit: number; cursor?: string | undefined }): Promise<AuditPage> {
    const after = page.cursor === undefined ? undefined : fromCursor(page.cursor);
    // One more than asked: tells whether an older page exists, so the last page says so (nextCursor null).
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'tenantId = :t',
        ExpressionAttributeValues: { ':t': tenantId },
        ScanIndexForward: false,
        // An admin who just changed something expects to see it.
        ConsistentRead: true,
        Limit: page.limit + 1,
        ...(after ? { ExclusiveStartKey: { tenantId, sk: after } } : {}),
      }),
    );
    const items = result.Items ?? [];
    const entries = items.slice(0, page.limit).map(toEntry);
    return { entries, nextCursor: items.length > page.limit ? toCursor(entries[entries.length - 1]?.id ?? '') : null };
  }
}

/** The documented fields only, in a stable order. */
function toEntry(item: Record<string, unknown>): AuditEntry {
  const { sk, at, actor, caller, action, details } = item;
  return { id: String(sk), at, actor, caller, action, details } as AuditEntry;
}
