import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { employeeId, type EmployeeAttribute, type PersonioEmployee } from '../../lib/personio/employee.js';
import { importMessageSchema, MESSAGE_BUDGET_BYTES } from '../../lib/queue/message.js';
import { MessagePacker, type PackedMessage } from '../../lib/queue/packer.js';
import { sqsRefusesBody } from '../helpers/faulty-sqs.js';

const header = { tenantId: 'acme', runId: '20261125T000000Z-abcd', fetchedAt: '2026-11-25T00:00:00.000Z' };

function employee(id: number, customAttributes = 0): PersonioEmployee {
  const e: PersonioEmployee = { id: { value: id, type: 'integer' }, email: { value: `person.${id}@example.com`, type: 'standard' } };
  for (let i = 0; i < customAttributes; i++) e[`dynamic_${9000 + i}`] = { value: `Custom value ${i} für Mitarbeiterin Nr. ${id} – ÄÖÜ`, type: 'standard' };
  return e;
}

function pack(employees: PersonioEmployee[], budget?: number): { messages: PackedMessage[]; packer: MessagePacker } {
  const packer = new MessagePacker(header, budget);
  const messages = employees.flatMap((e) => packer.add(e));
  return { messages: [...messages, ...packer.flush()], packer };
}

function packAll(employees: PersonioEmployee[], budget?: number): PackedMessage[] {
  return pack(employees, budget).messages;
}

/** Bytes of a message's envelope with no employees: written independently of the packer's prefix arithmetic. */
function envelopeBytes(seq: number): number {
  return Buffer.byteLength(JSON.stringify({ v: 1, ...header, seq, employees: [] }));
}

/** An employee's size in a body: JSON with U+FFFE/U+FFFF escaped (each 3 bytes raw, 6 escaped). */
function bodyBytes(e: PersonioEmployee): number {
  return Buffer.byteLength(JSON.stringify(e).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`));
}

describe('MessagePacker', () => {
  it('keeps every message under the byte budget, also for employees with 50 custom attributes', () => {
    // Prepare
    const employees = Array.from({ length: 1_000 }, (_, i) => employee(i + 1, 50));

    // Act
    const messages = packAll(employees);

    // Assess
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(Buffer.byteLength(m.body)).toBe(m.bytes);
      expect(m.bytes).toBeLessThanOrEqual(MESSAGE_BUDGET_BYTES);
    }
    // Packed, not one per employee: each message but the last is at least half full.
    for (const m of messages.slice(0, -1)) expect(m.bytes).toBeGreaterThan(MESSAGE_BUDGET_BYTES / 2);
  });

  it('produces bodies the worker accepts, numbered in order, carrying exactly the employees given', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), fc.integer({ min: 4_000, max: 40_000 }), (sizes, budget) => {
        // Prepare
        const employees = sizes.map((n, i) => employee(i + 1, n));

        // Act
        const messages = packAll(employees, budget);

        // Assess
        const parsed = messages.map((m) => importMessageSchema.parse(JSON.parse(m.body)));
        expect(parsed.map((p) => p.seq)).toEqual(parsed.map((_, i) => i));
        expect(parsed.flatMap((p) => p.employees)).toEqual(employees);
        expect(parsed.every((p) => p.tenantId === 'acme' && p.runId === header.runId)).toBe(true);
        expect(messages.every((m) => m.bytes <= budget)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('skips an employee that alone exceeds the budget, reporting its id, and packs the others', () => {
    // Prepare
    const noId = employee(0, 60);
    delete noId['id'];
    const stringId = { ...employee(0, 60), id: { value: '7', type: 'integer' } };
    const employees = [employee(1), employee(2), employee(3, 60), employee(4), stringId, noId, employee(5)];

    // Act
    const { messages, packer } = pack(employees, 1_000);

    // Assess
    expect(packer.rejected).toEqual([
      { personioId: 3, reason: 'employee_too_large', bytes: bodyBytes(employees[2]!) },
      { personioId: 7, reason: 'employee_too_large', bytes: bodyBytes(stringId) },
      { personioId: null, reason: 'employee_too_large', bytes: bodyBytes(noId) },
    ]);
    expect(packer.rejected.every((r) => r.bytes > 1_000)).toBe(true);
    expect(messages.flatMap((m) => JSON.parse(m.body).employees)).toEqual([employee(1), employee(2), employee(4), employee(5)]);
    expect(messages.map((m) => JSON.parse(m.body).seq)).toEqual(messages.map((_, i) => i));
  });

  it('rejects an employee that fits a message numbered 9 but not one numbered 10, instead of overrunning the budget', () => {
    // Prepare: equal-size employees, one per message; seq 10 has one more digit than seq 9.
    const employees = Array.from({ length: 12 }, (_, i) => employee(10 + i));
    const budget = envelopeBytes(10) + bodyBytes(employees[0]!) - 1;

    // Act
    const { messages, packer } = pack(employees, budget);

    // Assess
    expect(messages).toHaveLength(10);
    for (const m of messages) expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(budget);
    expect(packer.rejected.map((r) => r.personioId)).toEqual([20, 21]);
  });

  it('escapes U+FFFE and U+FFFF so SQS accepts the body, which parses back to exactly the same employee', () => {
    // Prepare
    const e: PersonioEmployee = {
      id: { value: 42, type: 'integer' },
      first_name: { value: 'An\uFFFFna\uFFFE \u{1F600} Ä', type: 'standard' },
      'dynamic_\uFFFF': { value: ['\uFFFE', '\uFFFF\uFFFF', '\uD800 lone', '\u0001'], type: 'multiple' },
    };
    const raw = JSON.stringify(e);

    // Act
    const [message] = packAll([e, employee(43)]);

    // Assess
    expect(sqsRefusesBody(raw)).toBe(true);
    expect(sqsRefusesBody(message!.body)).toBe(false);
    expect(message!.body).toContain('An\\uffffna\\ufffe');
    expect(JSON.parse(message!.body).employees).toEqual([e, employee(43)]);
    expect(message!.bytes).toBe(Buffer.byteLength(message!.body));
  });

  it('for arbitrary employees, packs every one it does not reject, in order, into bodies SQS accepts under the budget', () => {
    // Characters that need care (U+FFFE/U+FFFF, a lone surrogate, a control character, an astral one) among ordinary ones.
    const tricky = fc.string({ unit: fc.constantFrom('\uFFFE', '\uFFFF', '\uD800', '\u0000', '\u{1F600}', 'a', 'ß', '"', '\\'), maxLength: 30 });
    const huge = fc.tuple(fc.constantFrom('x', 'ü', '\uFFFF', '\u{1F600}'), fc.integer({ min: 500, max: 12_000 })).map(([c, n]) => c.repeat(n));
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), tricky, huge);
    const value = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }));
    const attribute: fc.Arbitrary<EmployeeAttribute> = fc.record(
      { value, type: fc.constantFrom('standard', 'date', 'multiple'), universal_id: fc.string({ unit: 'binary', maxLength: 12 }) },
      { requiredKeys: ['value'], noNullPrototype: true },
    );
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), tricky).filter((k) => k !== '__proto__' && k !== 'id');
    const anEmployee = fc.tuple(fc.dictionary(key, attribute, { maxKeys: 4, noNullPrototype: true }), fc.constantFrom('number', 'string', 'none'));

    fc.assert(
      fc.property(fc.array(anEmployee, { maxLength: 40 }), fc.integer({ min: 1_000, max: 20_000 }), (drafts, budget) => {
        // Prepare: unique ids (some as Personio's numeric strings, some missing), so each rejection names whom it skipped.
        const employees = drafts.map(([attrs, idShape], i): PersonioEmployee => {
          if (idShape === 'none') return attrs;
          return { id: { value: idShape === 'number' ? i + 1 : String(i + 1), type: 'integer' }, ...attrs };
        });

        // Act
        const { messages, packer } = pack(employees, budget);

        // Assess
        for (const m of messages) {
          expect(Buffer.byteLength(m.body)).toBe(m.bytes);
          expect(m.bytes).toBeLessThanOrEqual(budget);
          expect(sqsRefusesBody(m.body)).toBe(false);
          importMessageSchema.parse(JSON.parse(m.body));
        }
        const bodies = messages.map((m) => JSON.parse(m.body) as { seq: number; employees: PersonioEmployee[] });
        expect(bodies.map((b) => b.seq)).toEqual(bodies.map((_, i) => i));
        // Walk the input: each employee is either the next one packed or the next one rejected, and nothing is left over.
        const packed = bodies.flatMap((b) => b.employees);
        let p = 0;
        let r = 0;
        for (const e of employees) {
          if (p < packed.length && JSON.stringify(packed[p]) === JSON.stringify(e)) {
            expect(packed[p]).toEqual(e);
            p++;
            continue;
          }
          // Not packed, so rejected: named by its id, and too large for even the widest envelope this run used.
          expect(packer.rejected[r]).toEqual({ personioId: employeeId(e) ?? null, reason: 'employee_too_large', bytes: bodyBytes(e) });
          expect(bodyBytes(e) + envelopeBytes(messages.length)).toBeGreaterThan(budget);
          r++;
        }
        expect(p).toBe(packed.length);
        expect(r).toBe(packer.rejected.length);
      }),
      { numRuns: 150 },
    );
  });

  it('sends nothing for an empty run', () => {
    const { messages, packer } = pack([]);
    expect(messages).toEqual([]);
    expect(packer.rejected).toEqual([]);
  });
});
