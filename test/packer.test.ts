import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importMessageSchema, MESSAGE_BUDGET_BYTES } from '../lib/queue/message.js';
import { MessagePacker, MessageTooLargeError, type PackedMessage } from '../lib/queue/packer.js';
import type { PersonioEmployee } from '../lib/personio/employee.js';

const header = { tenantId: 'acme', runId: '20261125T000000Z-abcd', fetchedAt: '2026-11-25T00:00:00.000Z' };

function employee(id: number, customAttributes = 0): PersonioEmployee {
  const e: PersonioEmployee = { id: { value: id, type: 'integer' }, email: { value: `person.${id}@example.com`, type: 'standard' } };
  for (let i = 0; i < customAttributes; i++) e[`dynamic_${9000 + i}`] = { value: `Custom value ${i} für Mitarbeiterin Nr. ${id} – ÄÖÜ`, type: 'standard' };
  return e;
}

function packAll(employees: PersonioEmployee[], budget?: number): PackedMessage[] {
  const packer = new MessagePacker(header, budget);
  const messages = employees.flatMap((e) => packer.add(e));
  return [...messages, ...packer.flush()];
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

  it('refuses an employee that alone exceeds the budget instead of sending an oversized message', () => {
    // Prepare
    const packer = new MessagePacker(header, 1_000);

    // Act / Assess
    expect(() => packer.add(employee(1, 50))).toThrow(MessageTooLargeError);
  });

  it('sends nothing for an empty run', () => {
    expect(packAll([])).toEqual([]);
  });
});
