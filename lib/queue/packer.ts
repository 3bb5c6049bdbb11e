import { employeeId, type PersonioEmployee } from '../personio/employee.js';
import { MESSAGE_BUDGET_BYTES } from './message.js';

export interface MessageHeader {
  tenantId: string;
  runId: string;
  fetchedAt: string;
  /** Delta runs: see `touch` in lib/queue/message.ts. */
  touch?: boolean;
}

export interface PackedMessage {
  seq: number;
  body: string;
  bytes: number;
  employees: number;
}

/** An employee left out of every message; the run reports it instead of failing on it. */
export interface RejectedEmployee {
  /** Null when Personio sent no usable id. */
  personioId: number | null;
  reason: 'employee_too_large';
  /** Its serialised size, for the finding (a size says nothing about the employee). */
  bytes: number;
}

/**
 * The characters SQS refuses (it allows #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF) that
 * JSON.stringify leaves raw: it escapes control characters and lone surrogates, so only U+FFFE and U+FFFF remain.
 * A positive class, not the allowed set negated: V8 scans for it several times faster, and this runs per employee.
 */
const SQS_REFUSED = /[\uFFFE\uFFFF]/u;
const SQS_REFUSED_ALL = /[\uFFFE\uFFFF]/gu;

/**
 * Such a character can only sit inside a JSON string, where its \uXXXX escape parses back to the same
 * character: the body stays lossless and SQS accepts it. The test runs first so the common case costs one scan.
 */
function sqsSafe(json: string): string {
  if (!SQS_REFUSED.test(json)) return json;
  return json.replace(SQS_REFUSED_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Packs employees into message bodies up to a byte budget. Each employee is serialised once and
 * joined as text, so packing costs one JSON.stringify per employee and no re-serialisation.
 *
 * An employee too large for a message on its own is skipped and listed in `rejected`: it would be the same
 * employee on every run, so failing the run for it would stop the tenant's imports for good.
 */
export class MessagePacker {
  private parts: string[] = [];
  private bytes = 0;
  private seq = 0;
  private readonly head: string;
  /** The current message's prefix and its bytes plus the suffix's: rebuilt only when a message closes. */
  private prefix: string;
  private overhead: number;
  private readonly rejections: RejectedEmployee[] = [];
  private static readonly suffix = ']}';

  constructor(
    header: MessageHeader,
    private readonly budget = MESSAGE_BUDGET_BYTES,
  ) {
    // {"v":1,...,"fetchedAt":"..."} -> {"v":1,...,"fetchedAt":"...","seq":N,"employees":[
    this.head = sqsSafe(
      JSON.stringify({ v: 1, tenantId: header.tenantId, runId: header.runId, fetchedAt: header.fetchedAt, ...(header.touch ? { touch: true } : {}) }),
    ).slice(0, -1);
    this.prefix = this.prefixFor(this.seq);
    this.overhead = this.overheadOf(this.prefix);
  }

  /** The employees skipped so far, in the order they were given. */
  get rejected(): readonly RejectedEmployee[] {
    return this.rejections;
  }

  /** Adds one employee; returns the messages this closed (zero or one). Never throws for an employee. */
  add(employee: PersonioEmployee): PackedMessage[] {
    const json = sqsSafe(JSON.stringify(employee));
    const size = Buffer.byteLength(json);
    const separator = this.parts.length > 0 ? 1 : 0;
    if (this.overhead + this.bytes + separator + size <= this.budget) {
      this.append(json, separator + size);
      return [];
    }
    // Checked against the next message's prefix: its seq may have one digit more than this one's.
    if (this.parts.length === 0 || this.overheadOf(this.prefixFor(this.seq + 1)) + size > this.budget) {
      this.rejections.push({ personioId: employeeId(employee) ?? null, reason: 'employee_too_large', bytes: size });
      return [];
    }
    const closed = this.flush();
    this.append(json, size);
    return closed;
  }

  /** Closes the current message, if it holds anything. */
  flush(): PackedMessage[] {
    if (this.parts.length === 0) return [];
    const body = this.prefix + this.parts.join(',') + MessagePacker.suffix;
    // Every part is escaped JSON.stringify output (well-formed UTF-16), so the body's bytes are the sum of its parts'.
    const message = { seq: this.seq, body, bytes: this.overhead + this.bytes, employees: this.parts.length };
    this.seq++;
    this.prefix = this.prefixFor(this.seq);
    this.overhead = this.overheadOf(this.prefix);
    this.parts = [];
    this.bytes = 0;
    return [message];
  }

  private append(json: string, bytes: number): void {
    this.parts.push(json);
    this.bytes += bytes;
  }

  private prefixFor(seq: number): string {
    return `${this.head},"seq":${seq},"employees":[`;
  }

  private overheadOf(prefix: string): number {
    return Buffer.byteLength(prefix) + MessagePacker.suffix.length;
  }
}
