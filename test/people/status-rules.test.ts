import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { statuses, type Status } from '../../lib/mapping/convert.js';
import { mapEmployee, type MappedEmployee } from '../../lib/mapping/map-employee.js';
import { defaultMapping, type Mapping } from '../../lib/mapping/mapping.js';
import type { PersonioEmployee } from '../../lib/personio/employee.js';
import { mergeContent, type ContentField } from '../../lib/users/user.js';
import type { UserRecord } from '../../lib/users/user.js';

/**
 * The status rules (DESIGN §3 "Employees' state", issue 12): Personio's `status`, whenever it is sent, decides `active`
 * (`inactive` → not active; `active`, `onboarding`, `leave` → active), whether or not the tenant imports the status
 * field; a field that is not imported is never written; a status the mapping cannot read is a reported problem and
 * leaves `active` as it was (a new user: active). Pure: mapEmployee and mergeContent, no local stack.
 */

type Content = Pick<UserRecord, ContentField>;

const mappings: Record<'mapped' | 'unmapped', Mapping> = {
  mapped: defaultMapping(),
  unmapped: { ...defaultMapping(), fields: { ...defaultMapping().fields, status: null } },
};

/** Personio's payload for one employee, with `status` as given (the key left out for `absent`). */
function employee(status: { value: unknown } | 'absent', extra: PersonioEmployee = {}): PersonioEmployee {
  return {
    id: { value: 4711, type: 'integer' },
    email: { value: 'ada.lovelace@example.com', type: 'standard' },
    first_name: { value: 'Ada', type: 'standard' },
    ...(status === 'absent' ? {} : { status: { value: status.value, type: 'standard' } }),
    ...extra,
  };
}

function mapped(payload: PersonioEmployee, mapping: Mapping): MappedEmployee {
  const result = mapEmployee(payload, mapping);
  if (!result.ok) throw new Error(`mapEmployee refused the employee: ${result.reason}`);
  return result.employee;
}

/**
 * A user imported before: `status` holds what an earlier import wrote (null when the field is not imported, since a
 * field not imported is never written).
 */
function existing(active: boolean, status: Status | null): Content {
  return { ...mergeContent(undefined, mapped(employee('absent'), mappings.unmapped)), active, status };
}

const currents = {
  'a new user': (_m: keyof typeof mappings): Content | undefined => undefined,
  'an existing active user': (m: keyof typeof mappings): Content => existing(true, m === 'mapped' ? 'active' : null),
  'an existing inactive user': (m: keyof typeof mappings): Content => existing(false, m === 'mapped' ? 'inactive' : null),
};

type Sent =
  | { kind: 'known'; label: string; value: Status }
  | { kind: 'absent'; label: string }
  | { kind: 'empty'; label: string; value: null | '' }
  | { kind: 'unknown'; label: string; value: unknown };

const sent: Sent[] = [
  ...statuses.map((value): Sent => ({ kind: 'known', label: `status ${value}`, value })),
  { kind: 'absent', label: 'no status in the payload' },
  { kind: 'empty', label: 'status null', value: null },
  // DESIGN §3 "Absent ≠ null": an explicit null or empty value clears a field; an empty status is no status.
  { kind: 'empty', label: "status ''", value: '' },
  { kind: 'unknown', label: "unknown status 'terminated'", value: 'terminated' },
  { kind: 'unknown', label: 'unknown status 42', value: 42 },
];

const cases = (Object.keys(mappings) as (keyof typeof mappings)[]).flatMap((m) =>
  (Object.keys(currents) as (keyof typeof currents)[]).flatMap((who) => sent.map((s) => ({ m, who, s }))),
);

describe('status rules: Personio status decides active, mapped or not', () => {
  it.each(cases.map((c) => [c.m, c.who, c.s.label, c] as const))('status field %s, %s, %s', (_m, _who, _label, { m, who, s }) => {
    // Prepare
    const current = currents[who](m);
    const payload = employee(s.kind === 'absent' ? 'absent' : { value: s.value });

    // Act
    const employeeMapped = mapped(payload, mappings[m]);
    const merged = mergeContent(current, employeeMapped);

    // Assess: active
    const before = current?.active ?? true;
    const expectedActive = s.kind === 'known' ? s.value !== 'inactive' : before;
    expect(merged.active).toBe(expectedActive);

    // Assess: a field not imported is never written; an imported one follows the absent/null rule
    if (m === 'unmapped') {
      expect(Object.keys(employeeMapped.fields)).not.toContain('status');
      expect(merged.status).toBe(current?.status ?? null);
    } else {
      const expectedStatus = s.kind === 'known' ? s.value : s.kind === 'empty' ? null : (current?.status ?? null);
      expect(merged.status).toBe(expectedStatus);
    }

    // Assess: an unknown status is reported once (code and attribute, never the value); nothing else is a problem
    const statusProblems = employeeMapped.problems.filter((p) => p.attribute === 'status');
    if (s.kind === 'unknown') {
      expect(statusProblems).toHaveLength(1);
      expect(statusProblems[0]).toMatchObject({ attribute: 'status', code: 'unreadable_value' });
      expect(JSON.stringify(employeeMapped.problems)).not.toContain(String(s.value));
    } else {
      expect(statusProblems).toEqual([]);
    }
  });
});

describe('status rules: properties', () => {
  /** A status Personio defines, as Personio or an admin's tooling might spell it. */
  const knownStatus = fc
    .tuple(fc.constantFrom(...statuses), fc.constantFrom('lower', 'upper', 'title'), fc.constantFrom('', ' ', '\t'), fc.constantFrom('', ' ', '\n'))
    .map(([status, spelling, before, after]) => ({
      status,
      value: `${before}${spelling === 'upper' ? status.toUpperCase() : spelling === 'title' ? status[0]!.toUpperCase() + status.slice(1) : status}${after}`,
    }));
  const current = fc.option(
    fc.record({ active: fc.boolean(), status: fc.option(fc.constantFrom(...statuses), { nil: null }) }).map(({ active, status }) => existing(active, status)),
    { nil: undefined },
  );
  /** Other attributes of the payload, usable or not: they never decide active. */
  const extra = fc.record(
    {
      first_name: fc.oneof(fc.string(), fc.constant(null), fc.integer()).map((value) => ({ value, type: 'standard' })),
      position: fc.oneof(fc.string(), fc.constant(null)).map((value) => ({ value, type: 'standard' })),
      hire_date: fc.oneof(fc.constant('2020-02-30'), fc.constant('2019-05-01T00:00:00+02:00'), fc.string()).map((value) => ({ value, type: 'date' })),
      employment_type: fc.oneof(fc.constantFrom('internal', 'external', 'freelance'), fc.constant(null)).map((value) => ({ value, type: 'standard' })),
    },
    { requiredKeys: [] },
  );

  it('the merged active equals status !== inactive whenever the payload carries a known status, mapped or not', () => {
    fc.assert(
      fc.property(
        knownStatus,
        fc.constantFrom('mapped', 'unmapped') as fc.Arbitrary<keyof typeof mappings>,
        current,
        extra,
        ({ status, value }, m, user, others) => {
          // Act
          const employeeMapped = mapped(employee({ value }, others as PersonioEmployee), mappings[m]);
          const merged = mergeContent(user, employeeMapped);

          // Assess
          expect(merged.active).toBe(status !== 'inactive');
          if (m === 'unmapped') expect('status' in employeeMapped.fields).toBe(false);
          else expect(merged.status).toBe(status);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a payload without a known status never changes active, and a value it carries is reported, never stored', () => {
    const notAStatus = fc.oneof(
      fc.constant({ kind: 'absent' as const }),
      fc.constantFrom(null, '', '   ').map((value) => ({ kind: 'empty' as const, value })),
      fc
        .oneof(fc.string(), fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }))
        .filter((v) => !(typeof v === 'string' && (v.trim() === '' || (statuses as readonly string[]).includes(v.trim().toLowerCase()))))
        .map((value) => ({ kind: 'unknown' as const, value })),
    );
    fc.assert(
      fc.property(notAStatus, fc.constantFrom('mapped', 'unmapped') as fc.Arbitrary<keyof typeof mappings>, current, (s, m, user) => {
        // Act
        const employeeMapped = mapped(employee(s.kind === 'absent' ? 'absent' : { value: s.value }), mappings[m]);
        const merged = mergeContent(user, employeeMapped);

        // Assess
        expect(merged.active).toBe(user?.active ?? true);
        const reported = employeeMapped.problems.filter((p) => p.attribute === 'status');
        expect(reported).toHaveLength(s.kind === 'unknown' ? 1 : 0);
        if (s.kind === 'unknown') expect(merged.status).toBe(user?.status ?? null);
      }),
      { numRuns: 500 },
    );
  });
});
