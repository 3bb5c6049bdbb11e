import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCalendarDate, toEmail, toNumber, toOrgName, toStatus, toSupervisorId, toTags, toText } from '../lib/mapping/convert.js';
import { mapEmployee } from '../lib/mapping/map-employee.js';
import { defaultMapping, mappingSchema, projection } from '../lib/mapping/mapping.js';
import { readFileSync } from 'node:fs';
import { compactEmployee, type PersonioEmployee } from '../lib/personio/employee.js';
import { employeeByIdSchema, employeesPageSchema } from '../lib/personio/schemas.js';

/** The default fields of Personio's example employee (Alexander Bergmann) in every official example payload. */
const BERGMANN_FIELDS = {
  email: 'alexander.bergmann@demo.email',
  firstName: 'Alexander',
  lastName: 'Bergmann',
  position: 'CTO',
  team: 'T_X',
  department: 'Customer Support',
  office: 'Munich',
  employmentType: 'external',
  hireDate: '2014-11-09',
  terminationDate: null,
  status: 'active',
  managerPersonioId: 2,
};

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../local/personio-sim/fixtures/${name}`, import.meta.url), 'utf8'));

const attr = (value: unknown, type = 'standard', universal_id?: string) => ({ value, type, ...(universal_id ? { universal_id } : {}) });

describe('calendar dates', () => {
  describe.each([
    ['2014-11-09T00:00:00+01:00', '2014-11-09'],
    ['2014-11-09T00:00:00+0100', '2014-11-09'],
    ['2014-11-09T00:00:00Z', '2014-11-09'],
    ['2014-11-09T00:00:00-05:00', '2014-11-09'],
    ['2014-11-09', '2014-11-09'],
    ['2024-02-29T00:00:00+01:00', '2024-02-29'],
    [null, null],
    ['', null],
  ])('%j', (input, expected) => {
    it(`is ${expected}`, () => expect(toCalendarDate(input)).toBe(expected));
  });

  describe.each([['2023-02-29'], ['2014-13-01'], ['09.11.2014'], ['yesterday'], [20141109], [{}]])('%j', (input) => {
    it('is unreadable (undefined), not a guess', () => expect(toCalendarDate(input)).toBeUndefined());
  });

  it('never shifts a date through UTC, whatever the offset', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2199-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom('+01:00', '+0100', '+14:00', '-12:00', 'Z', ''),
        (date, offset) => {
          const day = date.toISOString().slice(0, 10);
          const value = offset === '' ? day : `${day}T00:00:00${offset}`;
          return toCalendarDate(value) === day;
        },
      ),
    );
  });
});

describe('text, numbers and enumerations', () => {
  describe.each([
    [toText, '  Jürgen ', 'Jürgen'],
    [toText, '', null],
    [toText, null, null],
    [toText, 40, '40'],
    [toNumber, '40', 40],
    [toNumber, '32.5', 32.5],
    [toNumber, 3000, 3000],
    [toNumber, 'forty', undefined],
    [toEmail, 'Max.Mustermann@Example.COM', 'max.mustermann@example.com'],
    [toEmail, '', null],
    [toEmail, 'not an email', undefined],
    [toStatus, 'Active', 'active'],
    [toStatus, 'inactive', 'inactive'],
    [toStatus, 'gone fishing', undefined],
    [toTags, 'English,German, French', ['English', 'German', 'French']],
    [toTags, ['English'], ['English']],
    [toTags, '', null],
  ] as const)('%o(%j)', (convert, input, expected) => {
    it(`gives ${JSON.stringify(expected)}`, () => expect((convert as (v: unknown) => unknown)(input)).toEqual(expected));
  });
});

describe('nested objects', () => {
  describe.each([
    ['Personio department', { type: 'Department', attributes: { id: 281521, name: 'Customer Support' } }, 'Customer Support'],
    ['wrapped name', { type: 'Team', attributes: { id: 1, name: { label: 'Name', value: 'T_X' } } }, 'T_X'],
    ['null relation', null, null],
    ['empty object', {}, null],
    ['empty attributes', { type: 'Office', attributes: {} }, null],
    ['empty list', [], null],
  ])('%s', (_, value, expected) => {
    it(`names ${JSON.stringify(expected)}`, () => expect(toOrgName(value)).toBe(expected));
  });

  describe.each([
    ['wrapped id', { type: 'Employee', attributes: { id: { label: 'ID', value: 2, type: 'integer', universal_id: 'id' } } }, 2],
    ['id as string', { type: 'Employee', attributes: { id: { label: 'ID', value: '17' } } }, 17],
    ['plain id', { type: 'Employee', attributes: { id: 5 } }, 5],
    ['no supervisor', null, null],
    ['empty', {}, null],
  ])('supervisor: %s', (_, value, expected) => {
    it(`is ${expected}`, () => expect(toSupervisorId(value)).toBe(expected));
  });
});

describe('mapEmployee', () => {
  const mapping = defaultMapping('dynamic_180883');

  it('maps Personio’s own example employee', () => {
    // Prepare: the first employee of Personio's v1 example payload, compacted as the fetch sends it
    const employee: PersonioEmployee = {
      id: attr(1, 'integer'),
      first_name: attr('Alexander'),
      last_name: attr('Bergmann'),
      preferred_name: attr('Alexander Bergmann'),
      email: attr('alexander.bergmann@demo.email'),
      status: attr('active'),
      position: attr('CTO'),
      supervisor: attr({ type: 'Employee', attributes: { id: { label: 'ID', value: 2, type: 'integer', universal_id: 'id' } } }),
      employment_type: attr('external'),
      hire_date: attr('2014-11-09T00:00:00+01:00', 'date'),
      termination_date: attr(null, 'date'),
      office: attr({ type: 'Office', attributes: { id: 131014, name: 'Munich' } }),
      department: attr({ type: 'Department', attributes: { id: 281521, name: 'Customer Support' } }),
      team: attr({ type: 'Team', attributes: { id: 59026, name: 'T_X' } }),
      dynamic_180883: attr('1985-03-07T00:00:00+0100', 'date', 'date_of_birth'),
    };

    // Act
    const result = mapEmployee(employee, mapping);

    // Assess
    expect(result).toEqual({
      ok: true,
      employee: {
        personioId: 1,
        fields: { ...BERGMANN_FIELDS, preferredName: 'Alexander Bergmann', birthday: '1985-03-07' },
        customFields: {},
        problems: [],
      },
    });
  });

  it('leaves absent attributes alone and clears explicit nulls', () => {
    // Prepare: position not readable (absent), department explicitly empty
    const employee: PersonioEmployee = { id: attr(9), email: attr('a@b.example'), department: attr(null) };

    // Act
    const result = mapEmployee(employee, mapping);

    // Assess
    expect(result.ok && result.employee.fields).toEqual({ email: 'a@b.example', department: null });
  });

  it('reports an employee without an id instead of guessing', () => {
    expect(mapEmployee({ email: attr('a@b.example') }, mapping)).toEqual({ ok: false, personioId: undefined, reason: 'missing_id' });
  });

  it('keeps an unreadable value out of the record and names the field', () => {
    // Prepare
    const employee: PersonioEmployee = { id: attr('12'), email: attr('a@b.example'), hire_date: attr('soon', 'date') };

    // Act
    const result = mapEmployee(employee, mapping);

    // Assess
    expect(result.ok && result.employee).toMatchObject({ personioId: 12, fields: { email: 'a@b.example' }, problems: ['hireDate'] });
    expect(result.ok && 'hireDate' in result.employee.fields).toBe(false);
  });

  it('imports custom fields by attribute key, converting by type, and never a field the mapping leaves out', () => {
    // Prepare
    const custom = mappingSchema.parse({
      fields: { ...mapping.fields, position: null },
      customFields: { languages: 'dynamic_3', anniversary: 'dynamic_33400', title: 'dynamic_24407' },
    });
    const employee: PersonioEmployee = {
      id: attr(3),
      email: attr('c@d.example'),
      position: attr('CEO'),
      dynamic_3: attr('English,German', 'tags'),
      dynamic_33400: attr('2021-01-01', 'date'),
      dynamic_24407: attr(null),
    };

    // Act
    const result = mapEmployee(employee, custom);

    // Assess
    expect(result.ok && result.employee.customFields).toEqual({ languages: ['English', 'German'], anniversary: '2021-01-01', title: null });
    expect(result.ok && 'position' in result.employee.fields).toBe(false);
  });

  it('never throws, whatever Personio sends', () => {
    const value = fc.oneof(fc.jsonValue(), fc.date().map((d) => (Number.isNaN(d.getTime()) ? null : d.toISOString())));
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('id', 'email', 'status', 'supervisor', 'team', 'hire_date', 'dynamic_180883', 'first_name'), fc.record({ value, type: fc.string() })),
        (employee) => {
          const result = mapEmployee(employee, mapping);
          return result.ok ? Number.isSafeInteger(result.employee.personioId) : result.reason === 'missing_id';
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Personio’s own example payloads', () => {
  const examples: [string, PersonioEmployee][] = [
    ['GET /company/employees', compactEmployee(employeesPageSchema.parse(fixture('v1-employees-list.example.json')).data[0]!)],
    ['GET /company/employees/{id}', compactEmployee(employeeByIdSchema.parse(fixture('v1-employee-by-id.example.json')).data)],
  ];

  describe.each(examples)('the example of %s', (_, employee) => {
    it('parses through our schemas and maps every default field', () => {
      // Act
      const result = mapEmployee(employee, defaultMapping('dynamic_180883'));

      // Assess
      expect(result.ok && result.employee.fields).toMatchObject(BERGMANN_FIELDS);
      expect(result.ok && result.employee.problems).toEqual([]);
    });
  });

  it('finds the birthday through universal_id date_of_birth, whatever the attribute is called', () => {
    // Prepare: the by-id example carries dynamic_180883 with universal_id date_of_birth
    const employee = examples[1]![1];
    const key = Object.entries(employee).find(([, a]) => a.universal_id === 'date_of_birth')?.[0];

    // Act
    const result = mapEmployee(employee, defaultMapping(key ?? null));

    // Assess
    expect(key).toBe('dynamic_180883');
    expect(result.ok && result.employee.fields.birthday).toBe('1983-08-18');
  });
});

describe('the mapping', () => {
  it('requests only what it maps, plus id, email, status and last_modified_at', () => {
    // Prepare
    const mapping = mappingSchema.parse({ fields: { ...defaultMapping().fields, position: null, team: null }, customFields: { title: 'dynamic_24407' } });

    // Act
    const keys = projection(mapping);

    // Assess
    expect(keys).toContain('dynamic_24407');
    expect(keys).toContain('last_modified_at');
    expect(keys).not.toContain('position');
    expect(keys).not.toContain('team');
  });

  it('refuses a mapping that does not import email', () => {
    const result = mappingSchema.safeParse({ fields: { ...defaultMapping().fields, email: null }, customFields: {} });
    expect(result.success).toBe(false);
  });

  it('refuses custom fields that are not dynamic attributes', () => {
    const result = mappingSchema.safeParse({ fields: defaultMapping().fields, customFields: { salary: 'fix_salary' } });
    expect(result.success).toBe(false);
  });
});
