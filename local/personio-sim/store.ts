import { parsePersonioDate, relationKeys, stampNow, supervisorValue, type AttributeDefinition, type Attributes, type EmployeeGenerator } from './data.js';
import type { SimEmployeeView } from './types.js';

/**
 * The employee set, kept serialised. Each employee is held only as its UTF-8 JSON plus the byte range of every
 * `"key":{…}` fragment in it, so a page (projected or not) is one Buffer.concat of ready bytes: no stringify and no
 * UTF-8 encoding per request, and memory holds one (off-heap) copy of the data. Only employees that change are
 * serialised again (parse, edit, stringify: rare, so simplicity wins).
 */

interface StoredEmployee {
  id: number;
  full: Buffer;
  /** Byte start and end of attribute i's fragment in `full` at [2i] and [2i + 1]. */
  offsets: Int32Array;
  emailLower: string | null;
  /** When the employee as a whole last changed: generated value, or the time of run-time creation. */
  baseModifiedMs: number;
  /** Per attribute, when an update last touched it; lets `updated_since` honour projection and readability. */
  changedMs: Map<string, number> | null;
}

export interface EmployeeQuery {
  offset: number;
  limit: number;
  email: string | null;
  updatedSinceMs: number | null;
  /** `attributes[]` keys; null = no projection. */
  projection: ReadonlySet<string> | null;
  /** Readable keys of the credential; null = all. */
  readable: ReadonlySet<string> | null;
  /** Counted in `total` but left out of every page (knob `hiddenEmployeeIds`). */
  hidden?: ReadonlySet<number>;
}

export class StoreInputError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404,
  ) {
    super(message);
    this.name = 'StoreInputError';
  }
}

const EMPLOYEE_OPEN = '{"type":"Employee","attributes":{';
const EMPLOYEE_CLOSE = '}}';
const OPEN_BYTES = Buffer.from(EMPLOYEE_OPEN);
const CLOSE_BYTES = Buffer.from(EMPLOYEE_CLOSE);
const COMMA = Buffer.from(',');

export class EmployeeStore {
  private list: StoredEmployee[] = [];
  private readonly byId = new Map<number, StoredEmployee>();
  private readonly keys: readonly string[];
  /** `"key":` for every key, serialised once. */
  private readonly keyPrefixes: readonly string[];

  constructor(
    private readonly generator: EmployeeGenerator,
    count: number,
    private strictSpec: boolean,
  ) {
    this.keys = generator.keys;
    this.keyPrefixes = this.keys.map((key) => `${JSON.stringify(key)}:`);
    // In batches, so the generated objects die young instead of piling up for one big collection.
    const supervisors: number[] = [];
    for (let made = 0; made < count; made += 1000) {
      for (const attributes of generator.generate(Math.min(1000, count - made), supervisors, false)) this.insert(attributes);
    }
  }

  setStrictSpec(strict: boolean): void {
    if (strict === this.strictSpec) return;
    this.strictSpec = strict;
    for (const employee of this.list) this.serialise(employee, this.attributesOf(employee));
  }

  /**
   * Filters, then slices by item offset. Employees are ordered by id, so inserts and deletes shift later pages.
   * `parts` are the bytes of the `data` array's content (employees and the commas between them), to concat.
   */
  page(query: EmployeeQuery): { total: number; count: number; parts: Buffer[] } {
    let matching = this.list;
    if (query.updatedSinceMs !== null) {
      const since = query.updatedSinceMs;
      const relevant = effectiveKeys(query);
      matching = matching.filter((e) => e.baseModifiedMs > since || changedAfter(e, since, relevant));
    } else if (query.email !== null) {
      // Personio ignores `email` when `updated_since` is given (NOTES.md §2.1), hence the else.
      const wanted = query.email.toLowerCase();
      matching = matching.filter((e) => e.emailLower === wanted);
    }
    const indices = this.selectedIndices(query.projection, query.readable);
    const total = matching.length;
    const hidden = query.hidden;
    if (hidden && hidden.size > 0) matching = matching.filter((e) => !hidden.has(e.id));
    const slice = matching.slice(query.offset, query.offset + query.limit);
    const parts: Buffer[] = [];
    slice.forEach((employee, n) => {
      if (n > 0) parts.push(COMMA);
      render(employee, indices, parts);
    });
    return { total, count: slice.length, parts };
  }

  one(id: number, readable: ReadonlySet<string> | null): Buffer[] | undefined {
    const employee = this.byId.get(id);
    if (!employee) return undefined;
    const parts: Buffer[] = [];
    render(employee, this.selectedIndices(null, readable), parts);
    return parts;
  }

  definitions(readable: ReadonlySet<string> | null): AttributeDefinition[] {
    return this.generator.definitions.filter((d) => d.key === 'id' || readable === null || readable.has(d.key));
  }

  views(): SimEmployeeView[] {
    return this.list.map((e) => {
      const attributes = (JSON.parse(e.full.toString('utf8')) as { attributes: Record<string, { value?: unknown }> }).attributes;
      const email = attributes['email']?.value;
      return { id: e.id, email: typeof email === 'string' ? email : null, status: String(attributes['status']?.value), attributes };
    });
  }

  /** The employee's attribute values by key (neutral form), or undefined for an unknown id. */
  values(id: number): Record<string, unknown> | undefined {
    const employee = this.byId.get(id);
    if (!employee) return undefined;
    return Object.fromEntries(Object.entries(this.attributesOf(employee)).map(([key, attribute]) => [key, attribute.value]));
  }

  add(count: number): number[] {
    if (!Number.isInteger(count) || count < 0) throw new StoreInputError('add needs a non-negative integer', 400);
    const supervisors = this.list.map((e) => e.id);
    return this.generator.generate(count, supervisors, true).map((attributes) => this.insert(attributes).id);
  }

  remove(ids: readonly number[]): void {
    const doomed = new Set(ids);
    for (const id of doomed) this.byId.delete(id);
    this.list = this.list.filter((e) => !doomed.has(e.id));
  }

  update(id: number, changes: Record<string, unknown>): void {
    const employee = this.byId.get(id);
    if (!employee) throw new StoreInputError(`no employee ${id}`, 404);
    const attributes = this.attributesOf(employee);
    for (const key of Object.keys(changes)) {
      if (key === 'id' || !attributes[key]) throw new StoreInputError(`attribute ${key} cannot be set`, 400);
    }
    const explicit = changes['last_modified_at'];
    const explicitMs = typeof explicit === 'string' ? parsePersonioDate(explicit) : Number.NaN;
    if (explicit !== undefined && Number.isNaN(explicitMs)) throw new StoreInputError('last_modified_at must be a date string', 400);
    const at = Number.isNaN(explicitMs) ? Date.now() : explicitMs;

    const changed = employee.changedMs ?? new Map<string, number>();
    for (const [key, raw] of Object.entries(changes)) {
      const attribute = attributes[key];
      if (!attribute) continue;
      attribute.value = key === 'supervisor' && typeof raw === 'number' ? supervisorValue(raw) : structuredClone(raw);
      changed.set(key, at);
    }
    if (explicit === undefined && attributes['last_modified_at']) attributes['last_modified_at'].value = stampNow(at);
    changed.set('last_modified_at', at);
    employee.changedMs = changed;
    this.serialise(employee, attributes);
  }

  private insert(attributes: Attributes): StoredEmployee {
    const id = Number(attributes['id']?.value);
    const modified = attributes['last_modified_at']?.value;
    const employee: StoredEmployee = {
      id,
      full: Buffer.alloc(0),
      offsets: new Int32Array(this.keys.length * 2),
      emailLower: null,
      baseModifiedMs: typeof modified === 'string' ? parsePersonioDate(modified) : 0,
      changedMs: null,
    };
    this.serialise(employee, attributes);
    // Ids only ever grow (the generator continues past removed ids), so appending keeps the list sorted.
    this.list.push(employee);
    this.byId.set(id, employee);
    return employee;
  }

  /** The employee's attributes in neutral form (an empty relation is `value: null`), for editing. */
  private attributesOf(employee: StoredEmployee): Attributes {
    const { attributes } = JSON.parse(employee.full.toString('utf8')) as { attributes: Attributes };
    for (const key of relationKeys) {
      const attribute = attributes[key];
      if (attribute && isEmptyObject(attribute.value)) attribute.value = null;
    }
    return attributes;
  }

  private serialise(employee: StoredEmployee, attributes: Attributes): void {
    const fragments: string[] = [];
    let position = OPEN_BYTES.length;
    for (let i = 0; i < this.keys.length; i += 1) {
      const key = this.keys[i] as string;
      const attribute = attributes[key];
      const served =
        // The spec types supervisor/department/office/team values as non-nullable objects with no required
        // properties, so `{}` is the empty relation that validates (the attribute stays present: absent means "not
        // readable"). The default `null` is what Personio is believed to send, as it does for other empty values.
        this.strictSpec && attribute && attribute.value === null && relationKeys.has(key) ? { ...attribute, value: {} } : attribute;
      const fragment = (this.keyPrefixes[i] as string) + JSON.stringify(served);
      fragments.push(fragment);
      const bytes = Buffer.byteLength(fragment, 'utf8');
      employee.offsets[2 * i] = position;
      employee.offsets[2 * i + 1] = position + bytes;
      position += bytes + 1;
    }
    employee.full = Buffer.from(EMPLOYEE_OPEN + fragments.join(',') + EMPLOYEE_CLOSE, 'utf8');
    const email = attributes['email']?.value;
    employee.emailLower = typeof email === 'string' && email !== '' ? email.toLowerCase() : null;
  }

  /** Fragment indices to serve, in Personio's key order; null means "everything" (the bytes as stored). */
  private selectedIndices(projection: ReadonlySet<string> | null, readable: ReadonlySet<string> | null): number[] | null {
    if (projection === null && readable === null) return null;
    const indices: number[] = [];
    this.keys.forEach((key, i) => {
      // `id` is the record's identity: Personio returns it whatever is projected or readable.
      if (key === 'id' || ((readable === null || readable.has(key)) && (projection === null || projection.has(key)))) indices.push(i);
    });
    return indices;
  }
}

function render(employee: StoredEmployee, indices: number[] | null, out: Buffer[]): void {
  if (indices === null) {
    out.push(employee.full);
    return;
  }
  const { full, offsets } = employee;
  out.push(OPEN_BYTES);
  for (let n = 0; n < indices.length; n += 1) {
    const i = indices[n] as number;
    if (n > 0) out.push(COMMA);
    out.push(full.subarray(offsets[2 * i], offsets[2 * i + 1]));
  }
  out.push(CLOSE_BYTES);
}

/**
 * Keys whose changes count for `updated_since`: projected and readable ones (Personio: the filter "is applied only to
 * attributes that are whitelisted", and with `attributes[]` it selects employees with any of those changed).
 */
function effectiveKeys(query: EmployeeQuery): (key: string) => boolean {
  const { readable, projection } = query;
  // Unrestricted, any change counts (including a bare touch of last_modified_at).
  if (readable === null && projection === null) return () => true;
  return (key) => key !== 'last_modified_at' && (readable === null || readable.has(key)) && (projection === null || projection.has(key));
}

function changedAfter(employee: StoredEmployee, since: number, relevant: (key: string) => boolean): boolean {
  if (employee.changedMs === null) return false;
  for (const [key, at] of employee.changedMs) if (at > since && relevant(key)) return true;
  return false;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}
