import { changeMessageSchema, type HandledEvent } from '../webhooks/change.js';
import { forEachLimited } from '../util/concurrency.js';
import { errorName } from '../util/errors.js';
import { refreshTenant, type RefreshDeps, type RefreshOutcome } from './refresh-tenant.js';

/** One record of the changes queue: SQS's id for it and its body. */
export interface ChangeRecord {
  messageId: string;
  body: string;
}

export type TenantRefresh = { tenantId: string; personIds: number; messages: number } & (
  | { outcome: RefreshOutcome }
  /** refreshTenant threw before it could fail its run (DynamoDB, say): the changes are delivered again. */
  | { error: string }
);

export interface BatchOutcome {
  /** Records to be delivered again (SQS's batchItemFailures): malformed ones (to the DLQ in the end) and failed tenants'. */
  failed: string[];
  /** Those of them whose tenant's Personio budget was busy (no run): to be delivered again soon, not after the timeout. */
  deferred: string[];
  malformed: number;
  tenants: TenantRefresh[];
}

/** Tenants refreshed at once within one batch: each has its own Personio budget, so they do not slow each other. */
const TENANT_CONCURRENCY = 4;

/**
 * One batch of the changes queue (the event source mapping collects up to 100 over about 2 s: that is the coalescing):
 * grouped by tenant, each tenant's person ids de-duplicated (with every event named for them: a deletion among them
 * is what lets a 404 deactivate) and refreshed in one delta run. A tenant whose run failed, or whose budget was busy,
 * gets all its records back as failures, so SQS delivers them again; a skipped tenant's are acknowledged.
 */
export async function refreshBatch(deps: RefreshDeps, records: readonly ChangeRecord[], deadline: number): Promise<BatchOutcome> {
  const failed: string[] = [];
  const deferred: string[] = [];
  let malformed = 0;
  const byTenant = new Map<string, { people: Map<number, Set<HandledEvent>>; messageIds: string[] }>();
  for (const record of records) {
    const change = parse(record.body);
    if (!change) {
      // Never valid, however often delivered: reported, so the queue's redrive moves it to the DLQ for a look.
      malformed++;
      failed.push(record.messageId);
      continue;
    }
    const group = byTenant.get(change.tenantId) ?? { people: new Map<number, Set<HandledEvent>>(), messageIds: [] };
    const events = group.people.get(change.personId) ?? new Set<HandledEvent>();
    events.add(change.event);
    group.people.set(change.personId, events);
    group.messageIds.push(record.messageId);
    byTenant.set(change.tenantId, group);
  }
  const tenants: TenantRefresh[] = [];
  await forEachLimited([...byTenant], TENANT_CONCURRENCY, async ([tenantId, group]) => {
    const counts = { tenantId, personIds: group.people.size, messages: group.messageIds.length };
    try {
      const outcome = await refreshTenant(deps, tenantId, group.people, deadline);
      if (outcome.status === 'failed' || outcome.status === 'busy') failed.push(...group.messageIds);
      if (outcome.status === 'busy') deferred.push(...group.messageIds);
      tenants.push({ ...counts, outcome });
    } catch (error) {
      failed.push(...group.messageIds);
      tenants.push({ ...counts, error: errorName(error) });
    }
  });
  return { failed, deferred, malformed, tenants };
}

function parse(body: string) {
  try {
    const parsed = changeMessageSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
