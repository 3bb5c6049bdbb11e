import { createHash } from 'node:crypto';
import type { MappedEmployee, MappedFields } from '../mapping/map-employee.js';
import { userFieldNames } from '../mapping/mapping.js';

/** The user record (DESIGN §4). */
export interface UserRecord extends MappedFields {
  tenantId: string;
  userId: string;
  personioId: number;
  active: boolean;
  managerUserId: string | null;
  customFields: Record<string, unknown>;
  deactivatedAt?: string | null;
  deactivationReason?: string | null;
  /** The address this user had until a newer employee took it over (it left; the address was recycled). */
  previousEmail?: string | null;
}

/** What the table holds besides the record: keys and bookkeeping. */
export interface StoredUser extends UserRecord {
  sk: string;
  emailKey: string;
  contentHash: string;
  /** fetchedAt of the data in the item; an older message never overwrites it. */
  syncedAt: string;
  /** The run whose decision deactivated the user: how a completion or approval that is taken over counts its own. */
  deactivatedInRun?: string | null;
  /** The runs that created and last changed the user: how a redelivery of the same run reports it. */
  createdInRun: string;
  changedInRun: string;
  createdAt: string;
  updatedAt: string;
}

const emptyFields: MappedFields = {
  email: null,
  firstName: null,
  preferredName: null,
  lastName: null,
  position: null,
  team: null,
  department: null,
  office: null,
  employmentType: null,
  hireDate: null,
  terminationDate: null,
  birthday: null,
  status: null,
  managerPersonioId: null,
};

const recordFields = [...userFieldNames, 'active', 'managerUserId', 'customFields'] as const;
export type ContentField = (typeof recordFields)[number];

/** Applies a mapped employee onto the current content: present fields replace, absent ones stay. */
export function mergeContent(current: Pick<UserRecord, ContentField> | undefined, mapped: MappedEmployee): Pick<UserRecord, ContentField> {
  const base = current ? pickContent(current) : { ...emptyFields, active: true, managerUserId: null, customFields: {} };
  const next = { ...base, ...mapped.fields, customFields: { ...base.customFields, ...mapped.customFields } };
  // Personio's status decides, imported as a field or not; without a readable one, `active` stays as it was.
  if (mapped.personioStatus !== undefined) next.active = mapped.personioStatus !== 'inactive';
  if (mapped.fields.managerPersonioId === null) next.managerUserId = null;
  return next;
}

/** Only the content the import owns (a stored item also carries keys and bookkeeping). */
export function pickContent(user: Pick<UserRecord, ContentField>): Pick<UserRecord, ContentField> {
  const content = {} as Record<ContentField, unknown>;
  for (const field of recordFields) content[field] = user[field] ?? (field === 'customFields' ? {} : field === 'active' ? true : null);
  return content as Pick<UserRecord, ContentField>;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * A hash over the content that comes from Personio: equal hash, nothing to write. `managerUserId` is
 * left out: it is derived (predicted on write, corrected when the run finishes), and including it
 * would make every import rewrite users whose manager was linked later.
 */
const hashedFields = recordFields.filter((f) => f !== 'managerUserId');

export function contentHash(content: Pick<UserRecord, ContentField>): string {
  const ordered = hashedFields.map((f) => canonical(content[f] ?? null));
  return createHash('sha256').update(JSON.stringify(ordered)).digest('base64url').slice(0, 22);
}

export function toUserRecord(item: StoredUser): UserRecord {
  const record: UserRecord = {
    tenantId: item.tenantId,
    userId: item.userId,
    personioId: item.personioId,
    ...emptyFields,
    active: item.active,
    managerUserId: item.managerUserId ?? null,
    customFields: item.customFields ?? {},
  };
  for (const f of userFieldNames) (record as unknown as Record<string, unknown>)[f] = item[f] ?? null;
  if (item.deactivatedAt) {
    record.deactivatedAt = item.deactivatedAt;
    record.deactivationReason = item.deactivationReason ?? null;
  }
  if (item.previousEmail) record.previousEmail = item.previousEmail;
  return record;
}
