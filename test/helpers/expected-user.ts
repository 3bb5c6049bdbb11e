import type { SimEmployeeView } from '../../local/personio-sim/index.js';

/**
 * What the user record of a simulated employee must hold, derived independently of lib/mapping
 * (straight from the simulator's wrapped attributes), so the end-to-end test checks the mapper
 * rather than repeating it.
 */
export function expectedUser(employee: SimEmployeeView): Record<string, unknown> {
  const a = employee.attributes as Record<string, { value: unknown; universal_id?: string | null } | undefined>;
  const text = (key: string) => {
    const v = a[key]?.value;
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
  };
  const date = (v: unknown) => (typeof v === 'string' && v.length >= 10 ? v.slice(0, 10) : null);
  const org = (key: string) => {
    const v = a[key]?.value as { attributes?: { name?: string } } | null | undefined;
    return v?.attributes?.name ?? null;
  };
  const supervisor = a['supervisor']?.value as { attributes?: { id?: { value?: number } } } | null | undefined;
  const birthday = Object.values(a).find((attr) => attr?.universal_id === 'date_of_birth');
  const status = text('status');
  return {
    personioId: employee.id,
    email: text('email')?.toLowerCase() ?? null,
    firstName: text('first_name'),
    preferredName: text('preferred_name'),
    lastName: text('last_name'),
    position: text('position'),
    team: org('team'),
    department: org('department'),
    office: org('office'),
    employmentType: text('employment_type'),
    hireDate: date(a['hire_date']?.value),
    terminationDate: date(a['termination_date']?.value),
    birthday: date(birthday?.value),
    status,
    active: status !== 'inactive',
    managerPersonioId: supervisor?.attributes?.id?.value ?? null,
  };
}

/**
 * What a user's `customFields` must hold for a mapping's custom fields (name → `dynamic_*` key), derived from the
 * simulator's raw attribute and its Personio `type`, independently of lib/mapping: a `date` is the calendar date as
 * written, `tags` the comma-separated list, `integer`/`decimal` a number, anything else the trimmed text (blank is
 * null). An attribute the employee does not carry leaves its name out.
 */
export function expectedCustomFields(employee: SimEmployeeView, customFields: Record<string, string>): Record<string, unknown> {
  const a = employee.attributes as Record<string, { value: unknown; type?: string } | undefined>;
  const expected: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(customFields)) {
    const attribute = a[key];
    if (!attribute) continue;
    const v = attribute.value;
    const blank = v === null || (typeof v === 'string' && v.trim() === '');
    switch (attribute.type) {
      case 'date':
        expected[name] = blank ? null : String(v).slice(0, 10);
        break;
      case 'tags':
        expected[name] = blank
          ? null
          : Array.isArray(v)
            ? v.map((t) => String(t).trim()).filter(Boolean)
            : String(v)
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean);
        break;
      case 'integer':
      case 'decimal':
        expected[name] = blank ? null : Number(v);
        break;
      default:
        expected[name] = blank ? null : typeof v === 'string' ? v.trim() : v;
    }
  }
  return expected;
}
