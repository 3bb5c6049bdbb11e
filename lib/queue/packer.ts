import type { PersonioEmployee } from '../personio/employee.js';
import { MESSAGE_BUDGET_BYTES } from './message.js';

export interface MessageHeader {
  tenantId: string;
  runId: string;
  fetchedAt: string;
}

export interface PackedMessage {
  seq: number;
  body: string;
  bytes: number;
  employees: number;
}

export class MessageTooLargeError extends Error {
  override readonly name = 'MessageTooLargeError';
  readonly code = 'employee_too_large';
}

/**
 * Packs employees into message bodies up to a byte budget. Each employee is serialised once and
 * joined as text, so packing costs one JSON.stringify per employee and no re-serialisation.
 */
export class MessagePacker {
  private parts: string[] = [];
  private bytes = 0;
  private seq = 0;
  private readonly prefixFor: (seq: number) => string;
  /** The current message's prefix and its bytes plus the suffix's: rebuilt only when a message closes. */
  private prefix: string;
  private overhead: number;
  private static readonly suffix = ']}';

  constructor(
    header: MessageHeader,
    private readonly budget = MESSAGE_BUDGET_BYTES,
  ) {
    const head = JSON.stringify({ v: 1, tenantId: header.tenantId, runId: header.runId, fetchedAt: header.fetchedAt });
    // {"v":1,...,"fetchedAt":"..."} -> {"v":1,...,"fetchedAt":"...","seq":N,"employees":[
    this.prefixFor = (seq) => `${head.slice(0, -1)},"seq":${seq},"employees":[`;
    this.prefix = this.prefixFor(this.seq);
    this.overhead = Buffer.byteLength(this.prefix) + MessagePacker.suffix.length;
  }

  /** Adds one employee; returns the messages this closed (zero or one). */
  add(employee: PersonioEmployee): PackedMessage[] {
    const json = JSON.stringify(employee);
    const size = Buffer.byteLength(json);
    if (size + this.overhead > this.budget) {
      throw new MessageTooLargeError(`One employee serialises to ${size} bytes, over the ${this.budget}-byte message budget.`);
    }
    const closed: PackedMessage[] = [];
    const separator = this.parts.length > 0 ? 1 : 0;
    if (this.overhead + this.bytes + separator + size > this.budget) closed.push(...this.flush());
    this.parts.push(json);
    this.bytes += (this.parts.length > 1 ? 1 : 0) + size;
    return closed;
  }

  /** Closes the current message, if it holds anything. */
  flush(): PackedMessage[] {
    if (this.parts.length === 0) return [];
    const body = this.prefix + this.parts.join(',') + MessagePacker.suffix;
    // Every part is JSON.stringify output (well-formed UTF-16), so the body's bytes are the sum of its parts'.
    const message = { seq: this.seq, body, bytes: this.overhead + this.bytes, employees: this.parts.length };
    this.seq++;
    this.prefix = this.prefixFor(this.seq);
    this.overhead = Buffer.byteLength(this.prefix) + MessagePacker.suffix.length;
    this.parts = [];
    this.bytes = 0;
    return [message];
  }
}
