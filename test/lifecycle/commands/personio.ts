import type { REVOCABLE_ATTRIBUTES, Model } from '../model.js';
import type { Tenant } from '../world.js';
import { armFault } from './faults.js';
import { pick, shuffled, Step } from './step.js';

/** Changes in Personio, between runs and while one runs (see the gate in ./delivery.ts). */

export abstract class PersonioChange extends Step {
  check = (m: Readonly<Model>) => m.presentIds.length > 0;
}

export class Hire extends Step {
  constructor(readonly count: number) {
    super();
  }
  check = () => true;
  toString = () => `Hire(${this.count})`;
  protected async step(m: Model, t: Tenant) {
    for (const id of t.sim.addEmployees(this.count)) m.changed(id);
  }
}

export class Leave extends PersonioChange {
  constructor(readonly n: number) {
    super();
  }
  toString = () => `Leave(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    leave(m, t, [pick(m.presentIds, this.n)]);
  }
}

/** Several leave at once: enough for the deactivation guard to hold the next run. */
export class MassLeave extends PersonioChange {
  constructor(
    readonly percent: number,
    readonly seed: number,
  ) {
    super();
  }
  toString = () => `MassLeave(${this.percent} %, #${this.seed})`;
  protected async step(m: Model, t: Tenant) {
    const count = Math.max(1, Math.round((m.presentIds.length * this.percent) / 100));
    leave(m, t, shuffled(m.presentIds, this.seed).slice(0, count));
  }
}

function leave(m: Model, t: Tenant, ids: (number | undefined)[]): void {
  const views = new Map(t.sim.employees().map((e) => [e.id, e]));
  const gone = ids.filter((id): id is number => id !== undefined);
  t.sim.removeEmployees(gone);
  for (const id of gone) {
    const email = views.get(id)?.email;
    if (email) m.leftEmails.set(id, email);
    m.removed(id);
    if (m.hidden.has(id)) {
      m.hidden.delete(id);
      t.sim.setKnobs({ hiddenEmployeeIds: [...m.hidden] });
    }
  }
}

export class Terminate extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.presentIds.length > m.inactiveIds.length;
  toString = () => `Terminate(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(
      m.presentIds.filter((i) => !m.inactiveIds.includes(i)),
      this.n,
    );
    if (id === undefined) return;
    t.sim.updateEmployee(id, { status: 'inactive', termination_date: `${new Date().toISOString().slice(0, 10)}T00:00:00+01:00` });
    m.changed(id);
  }
}

export class Reinstate extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.inactiveIds.length > 0;
  toString = () => `Reinstate(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(m.inactiveIds, this.n);
    if (id === undefined) return;
    t.sim.updateEmployee(id, { status: 'active', termination_date: null });
    m.changed(id);
  }
}

/** Someone who left (or is inactive) comes back as a new employee (new id) with the same address. */
export class Rehire extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.leftEmails.size + m.inactiveIds.length > 0;
  toString = () => `Rehire(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const inactive = new Map(
      t.sim
        .employees()
        .filter((e) => e.status === 'inactive' && e.email)
        .map((e) => [e.id, e.email as string]),
    );
    const candidates = [...m.leftEmails.values(), ...inactive.values()];
    const email = pick(candidates, this.n);
    if (!email) return;
    const [id] = t.sim.addEmployees(1);
    if (id === undefined) return;
    t.sim.updateEmployee(id, { email });
    m.changed(id);
  }
}

export class EmailChange extends PersonioChange {
  constructor(readonly n: number) {
    super();
  }
  toString = () => `EmailChange(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(m.presentIds, this.n);
    if (id === undefined) return;
    t.sim.updateEmployee(id, { email: `renamed-${m.step}-${id}@musterfirma.example` });
    m.changed(id);
  }
}

/** Personio counts the employee in total_elements but shows it on no page. */
export class Hide extends PersonioChange {
  constructor(readonly n: number) {
    super();
  }
  toString = () => `Hide(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(
      m.presentIds.filter((i) => !m.hidden.has(i)),
      this.n,
    );
    if (id === undefined) return;
    m.setHidden(id, true);
    t.sim.setKnobs({ hiddenEmployeeIds: [...m.hidden] });
  }
}

export class Unhide extends Step {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.hidden.size > 0;
  toString = () => `Unhide(#${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick([...m.hidden], this.n);
    if (id === undefined) return;
    m.setHidden(id, false);
    t.sim.setKnobs({ hiddenEmployeeIds: [...m.hidden] });
  }
}

/**
 * One employee's value that must cost at most that value (or that employee, reported), never a message or a run:
 * an integer beyond 2^53 (as Personio sends it, a string), an employee larger than a message, a character SQS
 * refuses, an unpaired surrogate.
 */
export const POISONS = {
  bigint: ['dynamic_9500', '12345678901234567891'],
  huge: ['dynamic_9000', 'Ü'.repeat(70_000)],
  sqsRefused: ['dynamic_9000', 'Notiz \uFFFF Ende'],
  surrogate: ['position', 'Entwickler \uD800'],
} as const;

export class Poison extends PersonioChange {
  constructor(
    readonly kind: keyof typeof POISONS,
    readonly n: number,
  ) {
    super();
  }
  toString = () => `Poison(${this.kind}, #${this.n})`;
  protected async step(m: Model, t: Tenant) {
    const id = pick(m.presentIds, this.n);
    if (id === undefined) return;
    const [attribute, value] = POISONS[this.kind];
    t.sim.updateEmployee(id, { [attribute]: value });
    m.changed(id);
  }
}

/** The credential loses (or regains) the right to read an attribute the mapping imports. */
export class Readable extends PersonioChange {
  constructor(
    readonly attribute: (typeof REVOCABLE_ATTRIBUTES)[number],
    readonly readable: boolean,
  ) {
    super();
  }
  override check = (m: Readonly<Model>) => m.presentIds.length > 0 && m.unreadable.has(this.attribute) === this.readable;
  toString = () => `${this.readable ? 'Readable' : 'Unreadable'}(${this.attribute})`;
  protected async step(m: Model, t: Tenant) {
    if (this.readable) m.unreadable.delete(this.attribute);
    else m.unreadable.add(this.attribute);
    const keys = Object.keys(t.sim.employees()[0]?.attributes ?? {});
    t.sim.setKnobs({ readableAttributes: m.unreadable.size === 0 ? null : keys.filter((k) => !m.unreadable.has(k)) });
  }
}

/** Dado has a user of its own with the address of an employee not imported yet (linked on first import, not duplicated). */
export class DadoUser extends PersonioChange {
  constructor(
    readonly n: number,
    /** The first attempt to link it meets a concurrent transaction on the link item. */
    readonly contended = false,
  ) {
    super();
  }
  toString = () => `DadoUser(#${this.n}${this.contended ? ', its link contended once' : ''})`;
  protected async step(m: Model, t: Tenant) {
    if (this.contended) armFault(t, 'link-conflict', 1);
    const taken = new Set((await t.users()).map((u) => String(u['email'] ?? '').toLowerCase()));
    const candidates = t.sim.employees().filter((e) => e.email && !taken.has(e.email.toLowerCase()));
    const employee = pick(candidates, this.n);
    if (!employee?.email) return;
    const firstName = (employee.attributes['first_name'] as { value?: unknown } | undefined)?.value;
    m.dadoUsers.add(await t.createDadoUser(employee.email, typeof firstName === 'string' ? firstName : null));
  }
}
