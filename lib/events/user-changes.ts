import { userFieldNames } from '../mapping/mapping.js';
import { userPrefix } from '../storage/tables.js';
import { type ChangeEvent, type ChangeRecord, type Image, idempotencyKey, occurredAt, type UserDetailType } from './change.js';

/**
 * User change events, from the users table's stream. Only the user record's contract fields (DESIGN §4) count as a
 * change; everything else on the item is bookkeeping and never publishes anything on its own:
 * - keys and ids: tenantId, sk, userId, personioId (set once, when an existing Dado user is linked), emailKey;
 * - versions and stamps: contentHash, syncedAt, createdAt, updatedAt;
 * - which run wrote it: createdInRun, changedInRun, deactivatedInRun;
 * - why and when it was deactivated: deactivatedAt, deactivationReason (the `active` field itself is the change);
 * - previousEmail (the address a leaver had before it passed to a newer employee; `email` itself is the change).
 * Link items (`personio#<id>`) and deletions (REMOVE: only erasing a tenant deletes users) publish nothing.
 */

/** The user record's contract fields, in the order `changedFields` lists them; custom fields follow, as `customFields.<name>`. */
export const userContractFields = [...userFieldNames, 'active', 'managerUserId'] as const;

export interface UserChangeDetail {
  version: 1;
  idempotencyKey: string;
  tenantId: string;
  userId: string;
  personioId: number | null;
  /** The run whose write this was, when the write records it (see runOf); null otherwise. */
  runId: string | null;
  /** Names only, never values: contract fields, then `customFields.<name>` in name order. */
  changedFields: string[];
  occurredAt: string;
  stage: string;
}

/** The user event a users-table stream record stands for, or undefined when it is not one. */
export function userChangeEvent(record: ChangeRecord, context: { stage: string; now: () => Date }): ChangeEvent | undefined {
  if (!record.keys.sk.startsWith(userPrefix) || record.eventName === 'REMOVE' || !record.newImage) return undefined;
  const before = record.eventName === 'INSERT' ? undefined : record.oldImage;
  // A MODIFY without its old image cannot say what changed; treating it as a creation would claim one that was not.
  if (record.eventName === 'MODIFY' && !before) return undefined;
  const after = record.newImage;
  const changedFields = changedUserFields(before, after);
  const detailType = userDetailType(before, after, changedFields);
  if (!detailType) return undefined;
  const time = occurredAt(record, context.now);
  const personioId = after['personioId'];
  const detail: UserChangeDetail = {
    version: 1,
    idempotencyKey: idempotencyKey(record),
    tenantId: record.keys.tenantId,
    userId: record.keys.sk.slice(userPrefix.length),
    personioId: typeof personioId === 'number' ? personioId : null,
    runId: runOf(before, after),
    changedFields,
    occurredAt: time.toISOString(),
    stage: context.stage,
  };
  return { detailType, detail: { ...detail }, time };
}

function userDetailType(before: Image | undefined, after: Image, changedFields: readonly string[]): UserDetailType | undefined {
  if (!before) return 'User Created';
  if (changedFields.length === 0) return undefined;
  const [was, is] = [activeOf(before), activeOf(after)];
  if (was && !is) return 'User Deactivated';
  if (!was && is) return 'User Reactivated';
  return 'User Updated';
}

/**
 * The contract fields whose values differ between the two images (for a creation: those the new user has a value in).
 * An absent field equals null (a field the tenant does not import is never written), an absent `active` is true (as
 * lib/users/user.ts pickContent reads it), and values compare by content, whatever the order of their keys.
 */
export function changedUserFields(before: Image | undefined, after: Image): string[] {
  const changed: string[] = userContractFields.filter((field) => !sameValue(fieldOf(before, field), fieldOf(after, field)));
  const customBefore = customFieldsOf(before);
  const customAfter = customFieldsOf(after);
  const names = [...new Set([...Object.keys(customBefore), ...Object.keys(customAfter)])].sort();
  for (const name of names) if (!sameValue(customBefore[name] ?? null, customAfter[name] ?? null)) changed.push(`customFields.${name}`);
  return changed;
}

function fieldOf(image: Image | undefined, field: (typeof userContractFields)[number]): unknown {
  if (!image) return null;
  if (field === 'active') return activeOf(image);
  return image[field] ?? null;
}

const activeOf = (image: Image): boolean => image['active'] !== false;

function customFieldsOf(image: Image | undefined): Record<string, unknown> {
  const custom = image?.['customFields'];
  return custom !== null && typeof custom === 'object' && !Array.isArray(custom) ? (custom as Record<string, unknown>) : {};
}

const sameValue = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

function canonicalJson(value: unknown): string {
  // String and number sets come out of the stream as Sets: compared as sorted lists.
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Set) return [...v].sort();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const object = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(object)
        .sort()
        .map((k) => [k, object[k]]),
    );
  });
}

/**
 * The run whose write this was. The import's own writes (create, update, deactivate) record their run in
 * `changedInRun` and version the item (`syncedAt`, `contentHash`); two writes record none: the manager link a run
 * sets when it finishes, and the address taken off a leaver for a newer employee. A change that moved none of the
 * three is one of those, and names no run rather than the previous writer's.
 */
function runOf(before: Image | undefined, after: Image): string | null {
  const run = after[before ? 'changedInRun' : 'createdInRun'] ?? after['changedInRun'];
  if (typeof run !== 'string') return null;
  if (!before) return run;
  const versioned = ['changedInRun', 'syncedAt', 'contentHash'].some((attribute) => before[attribute] !== after[attribute]);
  return versioned ? run : null;
}
