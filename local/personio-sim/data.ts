import {
  COST_CENTERS,
  DEPARTMENTS,
  EMAIL_DOMAIN,
  EXECUTIVE_DEPARTMENT,
  FILLER_WORDS,
  FIRST_NAMES,
  LAST_NAMES,
  OFFICES,
  POSITIONS,
  SUBCOMPANIES,
  TEAMS,
  TERMINATION_REASONS,
  TERMINATION_TYPES,
  WEEKLY_HOURS,
} from './pools.js';
import { DAY_MS, isoDay, OFFSET_STYLES, pad, REFERENCE_MS, stampNow } from './dates.js';
import {
  type Attribute,
  type AttributeDefinition,
  type Attributes,
  BIRTHDAY_KEY,
  baseTemplate,
  LANGUAGES_KEY,
  languagesDefinition,
  MARITAL_KEY,
  maritalDefinition,
  required,
} from './fixtures.js';

// The simulator's modules and the tests import these from here, where they lived before the split.
export { parsePersonioDate, stampNow } from './dates.js';
export { type Attribute, type AttributeDefinition, type Attributes, loadFixture, relationKeys } from './fixtures.js';

/**
 * Seeded employee generation. Every employee starts as a deep clone of the first employee of Personio's own example
 * (fixtures/v1-employees-list.example.json), so keys, labels, key order and nesting are Personio's; only values vary.
 */

export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough to make test data look random while staying reproducible. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const EXTRA_KEY_BASE = 9000;
const INTEGER_KEY_BASE = 9500;

/** Folds a display name into an e-mail local part: "Müller-Lüdenscheidt" → "mueller-luedenscheidt", "O'Brien" → "obrien". */
function asciiFold(name: string): string {
  return name
    .toLowerCase()
    .replace(/ä/g, 'ae')
    .replace(/ö/g, 'oe')
    .replace(/ü/g, 'ue')
    .replace(/ß/g, 'ss')
    .replace(/ø/g, 'o')
    .replace(/ł/g, 'l')
    .replace(/æ/g, 'ae')
    .replace(/ı/g, 'i')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9-]/g, '');
}

/** Builds employees. Stateful: ids, e-mail uniqueness and the random stream continue across calls. */
export class EmployeeGenerator {
  readonly template: Attributes;
  /** Attribute keys in the order every employee carries them. */
  readonly keys: readonly string[];
  readonly definitions: readonly AttributeDefinition[];
  private readonly extraKeys: string[] = [];
  private readonly integerKeys: string[] = [];
  private readonly rng: Rng;
  private lastId = 0;
  private readonly usedEmails = new Set<string>();
  private generated = 0;

  constructor(seed: number, extraAttributes: number, integerAttributes = 0) {
    this.rng = mulberry32(seed);
    this.template = baseTemplate();
    for (let k = 0; k < extraAttributes; k += 1) {
      const key = `dynamic_${EXTRA_KEY_BASE + k}`;
      this.template[key] = { label: `Zusatzfeld ${k + 1}`, value: null, universal_id: null, type: 'standard' };
      this.extraKeys.push(key);
    }
    for (let k = 0; k < integerAttributes; k += 1) {
      const key = `dynamic_${INTEGER_KEY_BASE + k}`;
      this.template[key] = { label: `Nummer ${k + 1}`, value: null, universal_id: null, type: 'integer' };
      this.integerKeys.push(key);
    }
    this.keys = Object.keys(this.template);
    this.definitions = this.keys.map((key) => {
      const attribute = required(this.template[key], key);
      const listed = key === LANGUAGES_KEY ? languagesDefinition : key === MARITAL_KEY ? maritalDefinition : undefined;
      return { key, label: attribute.label, type: attribute.type, universal_id: attribute.universal_id, options: listed ? [...listed.options] : [] };
    });
  }

  /**
   * `supervisors` are the ids an employee may report to; for the initial set it grows as employees are made, so
   * every supervisor is an earlier employee (a tree). `createdNow` marks run-time additions (clock-based dates).
   */
  generate(count: number, supervisors: number[], createdNow: boolean): Attributes[] {
    const out: Attributes[] = [];
    for (let n = 0; n < count; n += 1) {
      const employee = this.one(supervisors, createdNow);
      out.push(employee);
      if (!createdNow) supervisors.push(employee['id']?.value as number);
    }
    return out;
  }

  private float(min: number, max: number): number {
    return min + this.rng() * (max - min);
  }

  private int(min: number, max: number): number {
    return Math.floor(this.float(min, max + 1));
  }

  private chance(p: number): boolean {
    return this.rng() < p;
  }

  private pick<T>(items: readonly T[]): T {
    return required(items[Math.floor(this.rng() * items.length)], 'a pool entry');
  }

  private stamp(ms: number, withTime: boolean): string {
    const d = new Date(ms);
    const time = withTime ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}` : '00:00:00';
    return `${isoDay(ms)}T${time}${this.pick(OFFSET_STYLES)}`;
  }

  private uniqueEmail(first: string, last: string): string {
    const base = `${asciiFold(first)}.${asciiFold(last)}`;
    let candidate = `${base}@${EMAIL_DOMAIN}`;
    for (let n = 2; this.usedEmails.has(candidate); n += 1) candidate = `${base}${n}@${EMAIL_DOMAIN}`;
    this.usedEmails.add(candidate);
    return candidate;
  }

  private one(supervisors: readonly number[], createdNow: boolean): Attributes {
    const index = this.generated;
    this.generated += 1;
    const isCeo = index === 0;
    // Ascending with gaps, like ids left behind by deleted or test employees.
    this.lastId = this.lastId === 0 ? 1000 + this.int(0, 50) : this.lastId + 1 + (this.chance(0.3) ? this.int(1, 40) : 0);
    const id = this.lastId;
    // Attribute wrappers are copied; template values are shared but never mutated (object values are replaced).
    const a: Attributes = {};
    for (const key of this.keys) a[key] = { ...(this.template[key] as Attribute) };
    const set = (key: string, value: unknown): void => {
      required(a[key], key).value = value;
    };

    const [first, gender] = this.pick(FIRST_NAMES);
    const last = this.pick(LAST_NAMES);
    set('id', id);
    set('first_name', first);
    set('last_name', last);
    set('preferred_name', this.chance(0.4) ? null : `${first} ${last}`);
    set('gender', gender);

    let email: string | null = this.uniqueEmail(first, last);
    const emailRoll = this.rng();
    if (!isCeo && emailRoll < 0.01)
      email = emailRoll < 0.005 ? '' : null; // both forms of "missing" occur in the wild
    else if (!isCeo && emailRoll < 0.015)
      email = emailRoll < 0.0125 ? email.toUpperCase() : email.replace(/(^|[.@])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
    set('email', email);

    const now = Date.now();
    const statusRoll = this.rng();
    const status = isCeo
      ? 'active'
      : createdNow
        ? 'onboarding'
        : statusRoll < 0.05
          ? 'inactive'
          : statusRoll < 0.08
            ? 'onboarding'
            : statusRoll < 0.11
              ? 'leave'
              : 'active';
    set('status', status);
    set('position', isCeo ? 'CEO' : this.chance(0.02) ? null : this.pick(POSITIONS));

    const supervisorId =
      isCeo || supervisors.length === 0 ? null : required(supervisors[Math.floor(this.rng() * Math.max(1, Math.ceil(supervisors.length / 8)))], 'a supervisor');
    set('supervisor', supervisorId === null ? null : supervisorValue(supervisorId));

    const employmentType = this.chance(0.9) ? 'internal' : 'external';
    set('employment_type', employmentType);
    const hours = employmentType === 'external' ? '40' : this.pick(WEEKLY_HOURS);
    set('weekly_working_hours', hours);

    // Dates: hire (future for onboarding), created before hire, last change within the two years before the reference.
    const anchor = createdNow ? now : REFERENCE_MS;
    const hireMs = status === 'onboarding' ? anchor + this.int(1, 90) * DAY_MS : anchor - this.int(30, 12 * 365) * DAY_MS;
    const createdMs = createdNow
      ? now
      : Math.min(hireMs - this.int(0, 60) * DAY_MS, REFERENCE_MS - this.int(1, 30) * DAY_MS) + this.int(8 * 3600, 18 * 3600) * 1000;
    const modifiedMs = createdNow ? now : Math.max(createdMs, REFERENCE_MS - this.float(0, 730) * DAY_MS);
    set('hire_date', this.stamp(hireMs, false));
    set('created_at', this.stamp(createdMs, true));
    set('last_modified_at', createdNow ? stampNow(now) : this.stamp(modifiedMs, true));
    set('probation_period_end', anchor - hireMs < 180 * DAY_MS ? this.stamp(hireMs + 182 * DAY_MS, false) : null);
    set('contract_end_date', employmentType === 'external' ? this.stamp(hireMs + this.int(180, 720) * DAY_MS, false) : null);
    if (status === 'inactive') {
      const terminationMs = hireMs + Math.floor((REFERENCE_MS - hireMs) * this.float(0.2, 1));
      set('termination_date', this.stamp(terminationMs, false));
      set('last_working_day', this.stamp(terminationMs, false));
      set('termination_type', this.pick(TERMINATION_TYPES));
      set('termination_reason', this.pick(TERMINATION_REASONS));
    }

    const [subcompanyId, subcompanyName] = this.pick(SUBCOMPANIES);
    setRelation(a, 'subcompany', 'Subcompany', subcompanyId, subcompanyName);
    const office = this.chance(0.05) ? null : this.pick(OFFICES);
    if (office) setRelation(a, 'office', 'Office', office[0], office[1]);
    else set('office', null);
    const department = isCeo ? EXECUTIVE_DEPARTMENT : this.chance(0.2) ? null : this.pick(DEPARTMENTS);
    if (department) setRelation(a, 'department', 'Department', department[0], department[1]);
    else set('department', null);
    const team = this.chance(0.3) ? null : this.pick(TEAMS);
    if (team) setRelation(a, 'team', 'Team', team[0], team[1]);
    else set('team', null);

    const calendar = office ?? required(OFFICES[0], 'an office');
    set('holiday_calendar', { type: 'HolidayCalendar', attributes: { id: calendar[2], name: calendar[3], country: calendar[4], state: calendar[5] } });
    const [ccId, ccName] = this.pick(COST_CENTERS);
    const costCenters = [{ type: 'CostCenter', attributes: { id: ccId, name: ccName, percentage: 100 } }];
    if (this.chance(0.1)) {
      const [otherId, otherName] = this.pick(COST_CENTERS.filter(([cid]) => cid !== ccId));
      required(costCenters[0], 'cost center').attributes.percentage = 60;
      costCenters.push({ type: 'CostCenter', attributes: { id: otherId, name: otherName, percentage: 40 } });
    }
    set('cost_centers', costCenters);
    const [entitlement] = (this.template['absence_entitlement']?.value ?? []) as { attributes: Record<string, unknown> }[];
    set('absence_entitlement', [{ ...entitlement, attributes: { ...entitlement?.attributes, entitlement: this.int(24, 30) } }]);
    set('work_schedule', workSchedule(hours));

    if (employmentType === 'external') {
      set('fix_salary', 0);
      set('hourly_salary', this.int(65, 120));
    } else {
      // Monthly, in steps of 50; working students (20 h) earn less.
      set('fix_salary', hours === '20' ? this.int(24, 36) * 50 : this.int(50, 190) * 50);
      set('hourly_salary', 0);
    }
    set('profile_picture', `https://api.personio.de/v1/company/employees/${id}/profile-picture`);

    set('dynamic_24407', this.chance(0.9) ? null : this.chance(0.8) ? 'Dr' : 'Prof. Dr');
    set('dynamic_21827', this.chance(0.05) ? null : this.iban());
    set('dynamic_33400', this.chance(0.3) ? null : `${new Date(REFERENCE_MS).getUTCFullYear() + this.int(0, 1)}-${isoDay(hireMs).slice(5)}`);
    set(BIRTHDAY_KEY, this.chance(0.04) ? null : this.stamp(Date.UTC(this.int(1960, 2004), this.int(0, 11), this.int(1, 28)), false));
    const languages = languagesDefinition.options.filter((_, i) => i === 0 || this.chance(0.35));
    set(LANGUAGES_KEY, this.chance(0.1) ? null : languages.join(','));
    set(MARITAL_KEY, this.chance(0.15) ? null : this.pick(maritalDefinition.options));
    for (const key of this.extraKeys) set(key, this.filler());
    // Personio sends custom integer attributes as digit strings (a badge or account number).
    for (const key of this.integerKeys) set(key, this.chance(0.2) ? null : String(this.int(1, 99_999)));
    return a;
  }

  private iban(): string {
    let digits = String(this.int(10, 99));
    for (let i = 0; i < 18; i += 1) digits += String(this.int(0, 9));
    return `DE${digits}`.replace(/(.{4})/g, '$1 ').trim();
  }

  /** A realistic custom text value of 30–60 characters. */
  private filler(): string {
    const target = this.int(30, 60);
    let text = '';
    while (text.length < target) text += (text ? ' ' : '') + this.pick(FILLER_WORDS);
    return text.slice(0, target).trimEnd();
  }
}

/** The wrapped short employee Personio puts in `supervisor.value`. */
export function supervisorValue(id: number): unknown {
  return { type: 'Employee', attributes: { id: { label: 'ID', value: id, type: 'integer', universal_id: 'id' } } };
}

function setRelation(a: Attributes, key: string, type: string, id: number, name: string): void {
  required(a[key], key).value = { type, attributes: { id, name } };
}

function workSchedule(hours: string): unknown {
  const perDay = Number(hours) / 5;
  const day = `${pad(Math.floor(perDay))}:${pad(Math.round((perDay % 1) * 60))}`;
  const name = hours === '40' ? 'Full-time, 40 hours without time tracking, (mon,tue,wed,thu,fri)' : `Teilzeit, ${hours} Stunden (Mo–Fr)`;
  return {
    type: 'WorkSchedule',
    attributes: {
      id: 97188 + Math.round(Number(hours) * 10),
      name,
      valid_from: null,
      monday: day,
      tuesday: day,
      wednesday: day,
      thursday: day,
      friday: day,
      saturday: '00:00',
      sunday: '00:00',
    },
  };
}
