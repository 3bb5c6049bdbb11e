import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCalendarDate, toEmail, toNumber, toOrgName, toPlainValue, toStatus, toSupervisorId, toTags, toText, Unusable } from '../../lib/mapping/convert.js';
import { mapEmployee, type MappingProblem } from '../../lib/mapping/map-employee.js';
import { defaultMapping, mappingSchema, projection } from '../../lib/mapping/mapping.js';
import { readFileSync } from 'node:fs';
import { compactEmployee, type PersonioEmployee } from '../../lib/personio/employee.js';
import { employeeByIdSchema, employeesPageSchema } from '../../lib/personio/schemas.js';

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

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../local/personio-sim/fixtures/${name}`, import.meta.url), 'utf8'));

const attr = (value: unknown, type = 'standard', universal_id?: string) => ({ value, type, ...(universal_id ? { universal_id } : {}) });

const { unreadable, notStorable } = Unusable;

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
    it('is unreadable, not a guess', () => expect(toCalendarDate(input)).toBe(unreadable));
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
    [toText, {}, unreadable],
    [toEmail, 'Max.Mustermann@Example.COM', 'max.mustermann@example.com'],
    [toEmail, '', null],
    [toEmail, 'not an email', unreadable],
    [toStatus, 'Active', 'active'],
    [toStatus, 'inactive', 'inactive'],
    [toStatus, 'gone fishing', unreadable],
    [toTags, 'English,German, French', ['English', 'German', 'French']],
    [toTags, ['English', null, ''], ['English']],
    [toTags, ['English', {}], unreadable],
    [toTags, '', null],
    [toPlainValue, true, true],
    [toPlainValue, 42, 42],
    [toPlainValue, ' Berlin ', 'Berlin'],
    [toPlainValue, 2 ** 60, notStorable],
    [toPlainValue, Number.NaN, notStorable],
    [toPlainValue, { a: 1 }, unreadable],
  ] as const)('%o(%j)', (convert, input, expected) => {
    it(`gives ${JSON.stringify(expected)}`, () => expect((convert as (v: unknown) => unknown)(input)).toEqual(expected));
  });
});

describe('numbers', () => {
  const digits = (n: number, lead = '1') => lead + '0'.repeat(n - 1);
  // [input, attribute type, expected]: a number stays a number only where both a JS number and DynamoDB hold it exactly.
  describe.each<[unknown, 'integer' | 'decimal', unknown]>([
    ['40', 'integer', 40],
    ['32.5', 'decimal', 32.5],
    [3000, 'integer', 3000],
    ['forty', 'integer', unreadable],
    [true, 'integer', unreadable],
    [null, 'integer', null],
    ['', 'decimal', null],
    ['   ', 'decimal', null],
    // Around 2^53: the largest safe integer is a number, as a number or as digits.
    [9007199254740991, 'integer', 9007199254740991],
    ['9007199254740991', 'integer', 9007199254740991],
    [-9007199254740991, 'integer', -9007199254740991],
    // 2^53 as a number may be 2^53 + 1 rounded while parsing: it cannot be made exact again.
    [9007199254740992, 'integer', notStorable],
    [-9007199254740992, 'integer', notStorable],
    [2 ** 60, 'integer', notStorable],
    // As digits, it is kept exactly, as text.
    ['9007199254740992', 'integer', '9007199254740992'],
    ['9007199254740993', 'integer', '9007199254740993'],
    ['12345678901234567', 'integer', '12345678901234567'],
    [' 1234567890123456789012345 ', 'integer', '1234567890123456789012345'],
    ['-12345678901234567', 'integer', '-12345678901234567'],
    ['9007199254740992', 'decimal', '9007199254740992'],
    ['150000000000000000000', 'decimal', '150000000000000000000'],
    // Leading zeros are padding, not digits: the value is the same, and the same value stores the same way.
    ['007', 'integer', 7],
    ['00012345678901234567', 'integer', '12345678901234567'],
    ['12345678901234567890.000', 'integer', '12345678901234567890'],
    ['-0', 'integer', 0],
    [-0, 'decimal', 0],
    // An integer attribute with a fraction is not an integer the mapping can read.
    [32.5, 'integer', unreadable],
    ['32.5', 'integer', unreadable],
    // Overflow and non-finite values.
    ['1e999', 'decimal', unreadable],
    ['Infinity', 'decimal', unreadable],
    [Number.POSITIVE_INFINITY, 'decimal', notStorable],
    [Number.NEGATIVE_INFINITY, 'integer', notStorable],
    [Number.NaN, 'integer', notStorable],
    [Number.NaN, 'decimal', notStorable],
    [digits(400), 'integer', digits(400)],
    // DynamoDB's range: magnitude 1E-130 to below 1E+126, at most 38 significant digits.
    [1e-130, 'decimal', 1e-130],
    [1e-131, 'decimal', notStorable],
    [-1e-200, 'decimal', notStorable],
    [1e200, 'decimal', notStorable],
    [1.5e20, 'decimal', notStorable],
    [`0.${'0'.repeat(199)}1`, 'decimal', `0.${'0'.repeat(199)}1`],
    [digits(130), 'decimal', digits(130)],
    // Decimals a double holds exactly stay numbers; those it would round are kept as their digits.
    ['0.1', 'decimal', 0.1],
    ['32.50', 'decimal', 32.5],
    ['-0.000001', 'decimal', -0.000001],
    ['12345678901234567.5', 'decimal', '12345678901234567.5'],
    ['0.10000000000000000555', 'decimal', '0.10000000000000000555'],
    ['-000.5000', 'decimal', -0.5],
  ])('%s as %s', (input, kind, expected) => {
    it(`is ${expected instanceof Unusable ? expected.code : typeof expected === 'string' && expected.length > 40 ? `the ${expected.length}-character text` : JSON.stringify(expected)}`, () => {
      expect(toNumber(input, kind)).toEqual(expected);
    });
  });

  it('keeps every plain decimal exactly: as a number when a safe number reads back as the same digits, else as its digits', () => {
    const canonical = (s: string) => {
      const [whole = '', fraction = ''] = s.replace(/^-/, '').split('.');
      const w = whole.replace(/^0+(?=\d)/, '');
      const f = fraction.replace(/0+$/, '');
      const body = f === '' ? w : `${w}.${f}`;
      return s.startsWith('-') && body !== '0' ? `-${body}` : body;
    };
    fc.assert(
      fc.property(
        fc.stringMatching(/^-?\d{1,45}(\.\d{1,45})?$/),
        fc.constantFrom('integer', 'decimal') as fc.Arbitrary<'integer' | 'decimal'>,
        (text, kind) => {
          const converted = toNumber(text, kind);
          if (converted instanceof Unusable) return kind === 'integer' && /\.\d*[1-9]/.test(text);
          const asNumber = Number(text);
          const numberIsExact = Number.isSafeInteger(Math.trunc(asNumber)) && canonical(plainDigits(asNumber)) === canonical(text);
          return numberIsExact ? converted === asNumber : converted === canonical(text);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** A number's shortest digits written out without an exponent (by ICU, not by the code under test). */
function plainDigits(n: number): string {
  return n.toLocaleString('en-US', { useGrouping: false, maximumSignificantDigits: 21 });
}

describe('long values', () => {
  // A quadratic regex turns one 200,000-character value into tens of seconds: a message that times out on every delivery.
  describe.each([
    ['an email of dots', () => toEmail(`a@${'a.'.repeat(100_000)}@`), unreadable],
    ['digits padded with zeros', () => toNumber(`1${'0'.repeat(200_000)}1`, 'integer'), `1${'0'.repeat(200_000)}1`],
    ['a decimal of zeros', () => toNumber(`0.${'0'.repeat(200_000)}`, 'decimal'), 0],
  ])('%s', (_, convert, expected) => {
    it('is converted in linear time', () => {
      const started = performance.now();
      const converted = convert();
      expect(performance.now() - started).toBeLessThan(500);
      expect(converted).toEqual(expected);
    });
  });

  it('accepts exactly the emails the plain pattern local@domain.tld accepts', () => {
    const pattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'B', '@', '.', ' ', '\t'), maxLength: 12 }), (text) => {
        const expected = text.trim() !== '' && pattern.test(text.trim().toLowerCase());
        return (typeof toEmail(text) === 'string') === expected;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('unpaired surrogates', () => {
  describe.each([
    ['a lone high surrogate', 'Jo\uD83Drg'],
    ['a lone low surrogate', '\uDE00Jörg'],
    ['a pair in the wrong order', 'x\uDE00\uD83Dx'],
  ])('%s', (_, text) => {
    it('is a value DynamoDB cannot store, in text, emails, enumerations, organisations and tags', () => {
      expect(toText(text)).toBe(notStorable);
      expect(toEmail(`${text}@example.com`)).toBe(notStorable);
      expect(toStatus(text)).toBe(notStorable);
      expect(toOrgName({ attributes: { name: text } })).toBe(notStorable);
      expect(toTags(`English,${text}`)).toBe(notStorable);
      expect(toTags(['English', text])).toBe(notStorable);
      expect(toPlainValue(text)).toBe(notStorable);
    });
  });

  it('keeps a well-formed pair (an emoji) as it is', () => {
    expect(toText(' Jörg 😀 ')).toBe('Jörg 😀');
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
        personioStatus: 'active',
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
    expect(result.ok && result.employee).toMatchObject({ personioId: 12, fields: { email: 'a@b.example' } });
    expect(result.ok && result.employee.problems).toEqual([{ field: 'hireDate', attribute: 'hire_date', code: 'unreadable_value' }]);
    expect(result.ok && 'hireDate' in result.employee.fields).toBe(false);
  });

  it('keeps a value DynamoDB cannot store out of the record, standard or custom, and names field and attribute', () => {
    // Prepare: lone surrogates in a standard and a custom field, an integer that arrived already rounded
    const custom = mappingSchema.parse({ fields: mapping.fields, customFields: { nickname: 'dynamic_7', badge: 'dynamic_8' } });
    const employee: PersonioEmployee = {
      id: attr(4),
      email: attr('e@f.example'),
      first_name: attr('J\uD83Drg'),
      last_name: attr('Müller 😀'),
      dynamic_7: attr('\uDE00', 'text'),
      dynamic_8: attr(2 ** 60, 'integer'),
    };

    // Act
    const result = mapEmployee(employee, custom);

    // Assess
    expect(result.ok && result.employee.fields).toEqual({ email: 'e@f.example', lastName: 'Müller 😀' });
    expect(result.ok && result.employee.customFields).toEqual({});
    expect(result.ok && result.employee.problems).toEqual([
      { field: 'firstName', attribute: 'first_name', code: 'not_storable' },
      { field: 'customFields.nickname', attribute: 'dynamic_7', code: 'not_storable' },
      { field: 'customFields.badge', attribute: 'dynamic_8', code: 'not_storable' },
    ]);
  });

  it('imports a badge number longer than a double holds as its exact digits', () => {
    // Prepare: Personio sends long integers of custom attributes as strings
    const custom = mappingSchema.parse({ fields: mapping.fields, customFields: { badge: 'dynamic_8', rate: 'dynamic_9' } });
    const employee: PersonioEmployee = {
      id: attr(5),
      email: attr('g@h.example'),
      dynamic_8: attr('12345678901234567', 'integer'),
      dynamic_9: attr('0.1', 'decimal'),
    };

    // Act
    const result = mapEmployee(employee, custom);

    // Assess
    expect(result.ok && result.employee.customFields).toEqual({ badge: '12345678901234567', rate: 0.1 });
    expect(result.ok && result.employee.problems).toEqual([]);
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

  it('never throws, and what it maps DynamoDB can store, whatever Personio sends', () => {
    const custom = mappingSchema.parse({
      fields: mapping.fields,
      customFields: {
        badge: 'dynamic_1',
        rate: 'dynamic_2',
        anniversary: 'dynamic_3',
        languages: 'dynamic_4',
        title: 'dynamic_5',
        shirt: 'dynamic_6',
        other: 'dynamic_7',
      },
    });
    const oddString = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom('\uD800', 'a\uDFFFb', '\uDE00\uD83D', '😀', ' ', 'Infinity', 'NaN', '1e999', '-0', '0x1F', '1,5'),
    );
    const oddNumber = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 53 - 1, 1e-131, 1e-130, 1e126, 9.999999999999999e125, Number.MAX_VALUE, Number.MIN_VALUE, -0),
    );
    const digitString = fc.oneof(fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }).map(String), fc.stringMatching(/^\s?-?\d{1,400}(\.\d{1,200})?\s?$/));
    const value = fc.oneof(
      fc.jsonValue(),
      oddString,
      oddNumber,
      digitString,
      fc.array(fc.oneof(oddString, oddNumber, fc.constant(null)), { maxLength: 4 }),
      fc.array(oddString, { maxLength: 4 }).map((tags) => tags.join(',')),
      fc.date().map((d) => (Number.isNaN(d.getTime()) ? null : d.toISOString())),
      fc.record({ attributes: fc.record({ id: fc.oneof(oddNumber, digitString), name: fc.oneof(oddString, fc.jsonValue()) }) }),
    );
    const type = fc.oneof(fc.constantFrom('integer', 'decimal', 'date', 'tags', 'text', 'options', 'standard', 'multiline'), fc.string());
    const keys = ['id', 'email', 'status', 'supervisor', 'team', 'hire_date', 'dynamic_180883', 'first_name', 'employment_type'];
    const customKeys = Object.values(custom.customFields);
    const employees = fc
      .tuple(fc.dictionary(fc.constantFrom(...keys), fc.record({ value, type })), fc.dictionary(fc.constantFrom(...customKeys), fc.record({ value, type })))
      .map(([standard, dynamic]): PersonioEmployee => ({ ...standard, ...dynamic }));

    fc.assert(
      fc.property(employees, (employee) => {
        const result = mapEmployee(employee, custom);
        if (!result.ok) return result.reason === 'missing_id';
        const { personioId, fields, customFields, problems } = result.employee;
        expect(Number.isSafeInteger(personioId)).toBe(true);
        expectEveryPresentValueAccountedFor(employee, custom, result.employee);
        expect(problems.every((p) => Object.keys(p).sort().join() === 'attribute,code,field' && ['unreadable_value', 'not_storable'].includes(p.code))).toBe(
          true,
        );
        // As the user store writes it: the content fields and the custom fields map, through lib-dynamodb's marshaller.
        const item = marshall({ ...fields, customFields }, { removeUndefinedValues: true, convertClassInstanceToMap: false });
        for (const attribute of Object.values(item)) expectStorable(attribute);
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});

/** Each mapped attribute Personio sent ends up in the record or in a problem, never both, never neither. */
function expectEveryPresentValueAccountedFor(
  employee: PersonioEmployee,
  mapping: ReturnType<typeof mappingSchema.parse>,
  mapped: { fields: object; customFields: object; problems: MappingProblem[] },
): void {
  const sources = [
    ...Object.entries(mapping.fields).flatMap(([field, source]) => (source ? [[field, source, field in mapped.fields] as const] : [])),
    ...Object.entries(mapping.customFields).map(([name, source]) => [`customFields.${name}`, source, name in mapped.customFields] as const),
  ];
  for (const [field, source, stored] of sources) {
    const reported = mapped.problems.filter((p) => p.field === field);
    expect(reported.every((p) => p.attribute === source)).toBe(true);
    expect(stored ? 0 : employee[source] ? 1 : 0).toBe(reported.length);
  }
}

/** What DynamoDB accepts: numbers of at most 38 digits within 1E-130..<1E+126, strings that encode as UTF-8. */
function expectStorable(attribute: AttributeValue): void {
  if (attribute.N !== undefined) {
    const digits = attribute.N.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    const magnitude = Math.abs(Number(attribute.N));
    expect(digits.length).toBeLessThanOrEqual(38);
    expect(magnitude === 0 || (magnitude >= 1e-130 && magnitude < 1e126)).toBe(true);
    expect(Number.isFinite(Number(attribute.N))).toBe(true);
  }
  if (attribute.S !== undefined) expect(Buffer.from(attribute.S, 'utf8').toString('utf8')).toBe(attribute.S);
  if (attribute.L) for (const item of attribute.L) expectStorable(item);
  if (attribute.M) for (const item of Object.values(attribute.M)) expectStorable(item);
  if (attribute.SS || attribute.NS || attribute.B || attribute.BS) throw new Error('the mapping stores no sets or binaries');
}

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
