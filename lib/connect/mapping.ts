import { mapEmployee, type MappedEmployee, type MappedFields } from '../mapping/map-employee.js';
import { decideEmail } from '../users/email-holders.js';
import { personioUserId } from '../users/store.js';
import { projection, userFieldNames, type Mapping } from '../mapping/mapping.js';
import { compactEmployee } from '../personio/employee.js';
import { mergeContent, pickContent, type UserRecord } from '../users/user.js';
import type { AuditChange } from './audit.js';
import type { Who } from './caller.js';
import { requireConnection, updateConnection } from './connection.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';
import { fieldLabels } from './fields.js';
import { withStoredCredentials } from './personio.js';

/** Preview reads at most this many employees: one Personio page, well inside API Gateway's 30 s. */
export const MAX_PREVIEW = 50;

export interface MappingResult {
  tenantId: string;
  saved: true;
  mapping: Mapping;
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** What the next import would do with the employee's user. */
export type PreviewAction = 'create' | 'update' | 'reactivate' | 'deactivate' | 'refuse' | 'none';

export interface PreviewEmployee {
  personioId: number | null;
  /** `new`: would be created; `changed` / `unchanged`: already imported; `unmappable`: skipped (see `problems`). */
  outcome: 'new' | 'changed' | 'unchanged' | 'unmappable';
  /** The whole story: created, updated, reactivated, deactivated (Personio says inactive), refused, or nothing. */
  action: PreviewAction;
  /** Why, in a sentence an admin can act on (ids and field names, never values). */
  why: string;
  userId: string | null;
  fields: Partial<MappedFields>;
  customFields: Record<string, unknown>;
  /** For users already imported: each field that would change, old → new. */
  changes: FieldChange[];
  /**
   * Fields whose value Personio sent the mapping cannot use (the user's field is left alone), by
   * field name: the API's contract lists names, and the name is what an admin fixes the mapping by.
   */
  problems: string[];
}

export interface PreviewResult {
  tenantId: string;
  saved: false;
  mapping: Mapping;
  employees: PreviewEmployee[];
  counts: Record<PreviewEmployee['outcome'], number>;
  actions: Record<PreviewAction, number>;
}

/**
 * Checks a mapping against what the tenant's Personio credential can read (as stored at connect, or
 * refreshed by GET …/attributes): every mapped attribute must be readable. Names each bad field.
 */
function checkMapping(tenantId: string, mapping: Mapping, readable: readonly string[]): void {
  const can = new Set(readable);
  const hint = `enable it in Personio under API credentials, then reload GET /tenants/${tenantId}/personio/attributes`;
  const details: { field: string; message: string }[] = [];
  for (const field of userFieldNames) {
    const source = mapping.fields[field];
    if (source !== null && !can.has(source))
      details.push({ field: `fields.${field}`, message: `${source} is not readable by the Personio credential (${fieldLabels[field]}: ${hint})` });
  }
  for (const [name, source] of Object.entries(mapping.customFields)) {
    if (!can.has(source)) details.push({ field: `customFields.${name}`, message: `${source} is not readable by the Personio credential (${hint})` });
  }
  if (details.length > 0) throw new ConnectError('invalid_mapping', details.map((d) => `${d.field}: ${d.message}`).join('; '), details);
}

/** Saves the tenant's mapping: the next import reads and writes only what it maps. */
export async function saveMapping(deps: ConnectDeps, tenantId: string, mapping: Mapping, who: Who): Promise<MappingResult> {
  const connection = await requireConnection(deps, tenantId);
  checkMapping(tenantId, mapping, connection.readableAttributes);
  await updateConnection(deps, connection, { mapping });
  await deps.audit.record(tenantId, who, { action: 'mapping_saved', details: { changes: mappingChanges(connection.mapping, mapping) } }, deps.now());
  return { tenantId, saved: true, mapping };
}

/** Which fields now read another attribute (or none): names and attribute keys, never an employee's value. */
function mappingChanges(before: Mapping, after: Mapping): Extract<AuditChange, { action: 'mapping_saved' }>['details']['changes'] {
  const changes = userFieldNames
    .filter((field) => (before.fields[field] ?? null) !== (after.fields[field] ?? null))
    .map((field) => ({ field: `fields.${field}`, from: before.fields[field] ?? null, to: after.fields[field] ?? null }));
  const names = [...new Set([...Object.keys(before.customFields), ...Object.keys(after.customFields)])].sort();
  for (const name of names) {
    const from = before.customFields[name] ?? null;
    const to = after.customFields[name] ?? null;
    if (from !== to) changes.push({ field: `customFields.${name}`, from, to });
  }
  return changes;
}

/**
 * How the first `limit` employees would map under a proposed mapping, and for users already imported
 * which fields would change (old → new). Reads Personio and the users table; writes nothing.
 */
export async function previewMapping(deps: ConnectDeps, tenantId: string, mapping: Mapping, limit: number): Promise<PreviewResult> {
  const connection = await requireConnection(deps, tenantId);
  checkMapping(tenantId, mapping, connection.readableAttributes);
  const page = await withStoredCredentials(deps, tenantId, (client) => client.listEmployees({ limit, offset: 0, attributes: projection(mapping) }));

  const mapped = page.data.slice(0, limit).map((raw) => mapEmployee(compactEmployee(raw), mapping));
  const ids = mapped.flatMap((m) => (m.ok ? [m.employee.personioId] : []));
  const users = ids.length > 0 ? await deps.users.getByPersonioIds(tenantId, ids) : new Map<number, UserRecord>();

  const employees: PreviewEmployee[] = [];
  for (const result of mapped) {
    if (!result.ok) {
      employees.push({
        personioId: result.personioId ?? null,
        outcome: 'unmappable',
        action: 'refuse',
        why: `Not imported: ${result.reason.replace('_', ' ')}.`,
        userId: null,
        fields: {},
        customFields: {},
        changes: [],
        problems: [result.reason],
      });
      continue;
    }
    const { employee } = result;
    const user = users.get(employee.personioId);
    const next = user ? mergeContent(user, employee) : undefined;
    // As the import does: a user deactivated for leaving comes back when Personio lists it with a readable status.
    if (user && next && user.deactivatedAt && employee.personioStatus !== undefined) next.active = employee.personioStatus !== 'inactive';
    let changes = user && next ? diff(user, next) : [];
    const address = user && next ? await addressStory(deps, tenantId, user, next.email) : undefined;
    if (address?.refused) changes = changes.filter((c) => c.field !== 'email');
    const story = user && next ? existingStory(user, next.active, changes.length, address?.why) : await newStory(deps, tenantId, employee);
    employees.push({
      personioId: employee.personioId,
      outcome: !user ? (story.action === 'refuse' ? 'unmappable' : 'new') : changes.length > 0 ? 'changed' : 'unchanged',
      ...story,
      userId: user?.userId ?? null,
      fields: employee.fields,
      customFields: employee.customFields,
      changes,
      problems: employee.problems.map((p) => p.field),
    });
  }
  const counts = { new: 0, changed: 0, unchanged: 0, unmappable: 0 };
  const actions: Record<PreviewAction, number> = { create: 0, update: 0, reactivate: 0, deactivate: 0, refuse: 0, none: 0 };
  for (const e of employees) {
    counts[e.outcome]++;
    actions[e.action]++;
  }
  return { tenantId, saved: false, mapping, employees, counts, actions };
}

function existingStory(user: UserRecord, nextActive: boolean, changed: number, address: string | undefined): { action: PreviewAction; why: string } {
  const also = address ? ` ${address}` : '';
  if (!user.active && nextActive) {
    return {
      action: 'reactivate',
      why: `${user.deactivatedAt ? `Deactivated on ${user.deactivatedAt.slice(0, 10)} as no longer in Personio; Personio lists the employee again, so the user becomes active.` : 'Personio no longer says inactive, so the user becomes active.'}${also}`,
    };
  }
  if (user.active && !nextActive) return { action: 'deactivate', why: `Personio says inactive (the employee left): the user is deactivated.${also}` };
  if (changed > 0) return { action: 'update', why: `${changed} field(s) change (see changes).${also}` };
  return { action: 'none', why: `Nothing changes.${also}` };
}

/** What happens to a new address an existing user's employee brings, as the import decides it. */
async function addressStory(
  deps: ConnectDeps,
  tenantId: string,
  user: UserRecord,
  email: string | null,
): Promise<{ refused: boolean; why: string } | undefined> {
  if (!email || email.toLowerCase() === user.email?.toLowerCase()) return undefined;
  const decision = decideEmail(await deps.users.emailHolders(tenantId, email), { userId: user.userId, personioId: user.personioId }, false);
  switch (decision.kind) {
    case 'take':
      return {
        refused: false,
        why: `The new address takes over that of ${decision.from.map((u) => `user ${u.userId} (Personio id ${u.personioId ?? 'none'})`).join(', ')}, who left.`,
      };
    case 'defer':
    case 'conflict':
      return {
        refused: true,
        why: `The new address belongs to the active user of Personio employee ${decision.holder.personioId}: the user keeps its address (email_taken) until that employee has left.`,
      };
    case 'link':
      return { refused: true, why: `The new address belongs to Dado user ${decision.userId}, not linked to Personio: the user keeps its address.` };
    case 'free':
      return undefined;
  }
}

/** What the import would do for an employee without a user, including what happens to the address it brings. */
async function newStory(deps: ConnectDeps, tenantId: string, employee: MappedEmployee): Promise<{ action: PreviewAction; why: string }> {
  const email = employee.fields.email;
  if (!email) return { action: 'refuse', why: 'Not imported: Personio has no usable email address for the employee.' };
  const inactive = employee.personioStatus === 'inactive' ? ' inactive (Personio says inactive)' : '';
  const decision = decideEmail(
    await deps.users.emailHolders(tenantId, email),
    { userId: personioUserId(tenantId, employee.personioId), personioId: employee.personioId },
    false,
  );
  switch (decision.kind) {
    case 'link':
      return { action: 'update', why: `An existing Dado user with this address (user ${decision.userId}) is linked to the employee${inactive}.` };
    case 'take':
      return {
        action: 'create',
        why: `Created${inactive}, taking over the address of ${decision.from.map((u) => `user ${u.userId} (Personio id ${u.personioId ?? 'none'})`).join(', ')}, who left; that user keeps it as previousEmail.`,
      };
    case 'defer':
    case 'conflict':
      return {
        action: 'refuse',
        why: `Not imported while the address belongs to the active user of Personio employee ${decision.holder.personioId}: it passes over only once that employee has left (email_taken).`,
      };
    case 'free':
      return { action: 'create', why: `Created${inactive}.` };
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Changed content fields (managerUserId is derived at the end of a run, so it is not previewed). */
function diff(user: UserRecord, next: ReturnType<typeof mergeContent>): FieldChange[] {
  const current = pickContent(user);
  const changes: FieldChange[] = [];
  for (const field of [...userFieldNames, 'active'] as const) {
    if (!same(current[field], next[field])) changes.push({ field, from: current[field] ?? null, to: next[field] ?? null });
  }
  const names = new Set([...Object.keys(current.customFields), ...Object.keys(next.customFields)]);
  for (const name of [...names].sort()) {
    if (!same(current.customFields[name], next.customFields[name]))
      changes.push({ field: `customFields.${name}`, from: current.customFields[name] ?? null, to: next.customFields[name] ?? null });
  }
  return changes;
}
