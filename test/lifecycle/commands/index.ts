import fc from 'fast-check';
import { MAX_CONCURRENCY } from '../delivery.js';
import { REVOCABLE_ATTRIBUTES } from '../model.js';
import { CloseGate, Deliver, DeliverTwice, Delay, KillFetch, OpenGate, Redeliver, Redrive, ToDlq, WorkerDies } from './delivery.js';
import { FAULT_TARGETS, InjectFault, type FaultTarget } from './faults.js';
import { Approve, ApproveHeld, Connect, ConnectWithCustomFields, ConsoleFetch, Disconnect, ImportNow, LateApproval, ScheduleFires, Sweep } from './imports.js';
import { DadoUser, EmailChange, Hide, Hire, Leave, MassLeave, POISONS, Poison, Readable, Rehire, Reinstate, Terminate, Unhide } from './personio.js';
import type { Cmd } from './step.js';
import { Settle, TIME_STEPS, TimePasses } from './time.js';
import { Webhook } from './webhooks.js';

/** The commands a sequence is drawn from, with their weights, and the parser that replays a printed sequence. */

export { Settle } from './time.js';
// ---- the arbitrary ----------------------------------------------------------------------------------------------

const n = fc.nat({ max: 1_000 });
/** A value one time in four, undefined otherwise (shrinks towards undefined). */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arbitrary });

export function commandArbitrary(): fc.Arbitrary<Cmd> {
  return fc.oneof(
    { weight: 14, arbitrary: fc.tuple(fc.integer({ min: 1, max: MAX_CONCURRENCY }), n).map(([c, o]) => new Deliver(c, o)) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 0, max: 15 }),
          fc.constantFrom('none', 'none', 'concurrent', 'later') as fc.Arbitrary<'none' | 'concurrent' | 'later'>,
          fc.nat({ max: 2 }),
        )
        .map(([w, d, p]) => new ScheduleFires(w, d, p === 0)),
    },
    { weight: 5, arbitrary: fc.constant(new ImportNow()) },
    { weight: 3, arbitrary: sometimes(fc.integer({ min: 0, max: 6 })).map((k) => new ConsoleFetch(k)) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((c) => new Hire(c)) },
    { weight: 3, arbitrary: n.map((i) => new Leave(i)) },
    { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 20, max: 60 }), n).map(([p, i]) => new MassLeave(p, i)) },
    { weight: 3, arbitrary: n.map((i) => new Terminate(i)) },
    { weight: 1, arbitrary: n.map((i) => new Reinstate(i)) },
    { weight: 2, arbitrary: n.map((i) => new Rehire(i)) },
    { weight: 2, arbitrary: n.map((i) => new EmailChange(i)) },
    { weight: 2, arbitrary: fc.tuple(n, fc.boolean()).map(([i, c]) => new DadoUser(i, c)) },
    { weight: 2, arbitrary: n.map((i) => new Hide(i)) },
    { weight: 1, arbitrary: n.map((i) => new Unhide(i)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...REVOCABLE_ATTRIBUTES), fc.boolean()).map(([a, r]) => new Readable(a, r)) },
    { weight: 2, arbitrary: n.map((o) => new DeliverTwice(o)) },
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 12 }), n).map(([w, o]) => new WorkerDies(w, o)) },
    { weight: 2, arbitrary: n.map((i) => new Redeliver(i)) },
    { weight: 2, arbitrary: fc.tuple(n, fc.integer({ min: 1, max: 90 })).map(([i, mins]) => new Delay(i, mins)) },
    { weight: 3, arbitrary: n.map((i) => new ToDlq(i)) },
    // Skipped while the DLQ is empty.
    { weight: 3, arbitrary: fc.constant(new Redrive()) },
    { weight: 2, arbitrary: fc.constant(new CloseGate()) },
    { weight: 2, arbitrary: fc.constant(new OpenGate()) },
    { weight: 2, arbitrary: fc.constant(new KillFetch()) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...FAULT_TARGETS), fc.integer({ min: 1, max: 3 })).map(([f, c]) => new InjectFault(f, c)) },
    {
      weight: 2,
      arbitrary: fc.tuple(n, fc.boolean(), sometimes(fc.integer({ min: 0, max: 4 }))).map(([i, any, k]) => new Approve(i, any && i % 4 === 0, k)),
    },
    // Skipped while no run is held, so it is generated often.
    { weight: 6, arbitrary: fc.tuple(n, sometimes(fc.integer({ min: 0, max: 4 }))).map(([i, k]) => new ApproveHeld(i, k)) },
    { weight: 3, arbitrary: n.map((i) => new LateApproval(i)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...(Object.keys(POISONS) as (keyof typeof POISONS)[])), n).map(([k, i]) => new Poison(k, i)) },
    { weight: 1, arbitrary: fc.constant(new Disconnect()) },
    { weight: 2, arbitrary: fc.constant(new Connect()) },
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: TIME_STEPS.length - 1 }), fc.nat({ max: 2 })).map(([c, p]) => new TimePasses(c, p === 0)) },
    {
      weight: 5,
      arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), n, fc.nat({ max: 3 })).map(([c, i, g]) => new Webhook(c, i, g === 0)),
    },
    { weight: 1, arbitrary: fc.constant(new Sweep()) },
    { weight: 1, arbitrary: fc.constant(new Settle()) },
  );
}

/** Used by the harness around every sequence. */
export { ConnectWithCustomFields as FirstConnect };

// ---- replaying a printed sequence ----------------------------------------------------------------------------

const parsers: [RegExp, (g: string[]) => Cmd][] = [
  [/^Connect$/, () => new Connect()],
  [/^ConnectWithCustomFields$/, () => new ConnectWithCustomFields()],
  [/^LateApproval\(#(\d+)\)$/, (g) => new LateApproval(Number(g[1]))],
  [/^ApproveHeld\(#(\d+)(?:, dies at DynamoDB write (\d+))?\)$/, (g) => new ApproveHeld(Number(g[1]), g[2] === undefined ? undefined : Number(g[2]) - 1)],
  [/^Poison\((\w+), #(\d+)\)$/, (g) => new Poison(g[1] as keyof typeof POISONS, Number(g[2]))],
  [/^Disconnect$/, () => new Disconnect()],
  [/^ImportNow$/, () => new ImportNow()],
  [/^Sweep$/, () => new Sweep()],
  [/^Settle$/, () => new Settle()],
  [/^Redrive$/, () => new Redrive()],
  [/^HoldFetchPages$/, () => new CloseGate()],
  [/^ReleaseFetchPages$/, () => new OpenGate()],
  [/^KillWaitingFetch$/, () => new KillFetch()],
  [
    /^ScheduleFires\(\+(\d+)min(?:, delivered twice (concurrent|later))?(, event source paused)?\)$/,
    (g) => new ScheduleFires(Number(g[1]), (g[2] as 'concurrent' | 'later' | undefined) ?? 'none', g[3] !== undefined),
  ],
  [/^ConsoleFetch(?:\(dies at DynamoDB write (\d+)\))?$/, (g) => new ConsoleFetch(g[1] === undefined ? undefined : Number(g[1]) - 1)],
  [
    /^Approve\((any run|a held run) #(\d+)(?:, dies at DynamoDB write (\d+))?\)$/,
    (g) => new Approve(Number(g[2]), g[1] === 'any run', g[3] === undefined ? undefined : Number(g[3]) - 1),
  ],
  [/^Hire\((\d+)\)$/, (g) => new Hire(Number(g[1]))],
  [/^Webhook\((\d+) employee\(s\), #(\d+)(, one gone from Personio)?\)$/, (g) => new Webhook(Number(g[1]), Number(g[2]), g[3] !== undefined)],
  [/^Leave\(#(\d+)\)$/, (g) => new Leave(Number(g[1]))],
  [/^MassLeave\((\d+) %, #(\d+)\)$/, (g) => new MassLeave(Number(g[1]), Number(g[2]))],
  [/^Terminate\(#(\d+)\)$/, (g) => new Terminate(Number(g[1]))],
  [/^Reinstate\(#(\d+)\)$/, (g) => new Reinstate(Number(g[1]))],
  [/^Rehire\(#(\d+)\)$/, (g) => new Rehire(Number(g[1]))],
  [/^EmailChange\(#(\d+)\)$/, (g) => new EmailChange(Number(g[1]))],
  [/^DadoUser\(#(\d+)(, its link contended once)?\)$/, (g) => new DadoUser(Number(g[1]), g[2] !== undefined)],
  [/^Hide\(#(\d+)\)$/, (g) => new Hide(Number(g[1]))],
  [/^Unhide\(#(\d+)\)$/, (g) => new Unhide(Number(g[1]))],
  [/^(Readable|Unreadable)\((\w+)\)$/, (g) => new Readable(g[2] as (typeof REVOCABLE_ATTRIBUTES)[number], g[1] === 'Readable')],
  [/^Deliver\((\d+) at once, order #(\d+)\)$/, (g) => new Deliver(Number(g[1]), Number(g[2]))],
  [/^DeliverTwice\(order #(\d+)\)$/, (g) => new DeliverTwice(Number(g[1]))],
  [/^WorkerDies\(at write (\d+), order #(\d+)\)$/, (g) => new WorkerDies(Number(g[1]) - 1, Number(g[2]))],
  [/^Redeliver\(#(\d+)\)$/, (g) => new Redeliver(Number(g[1]))],
  [/^Delay\(#(\d+), (\d+) min\)$/, (g) => new Delay(Number(g[1]), Number(g[2]))],
  [/^ToDlq\(#(\d+)\)$/, (g) => new ToDlq(Number(g[1]))],
  [/^Fault\(([\w-]+) ×(\d+)\)$/, (g) => new InjectFault(g[1] as FaultTarget, Number(g[2]))],
  [
    /^TimePasses\((.+?)(, event source paused)?\)$/,
    (g) =>
      new TimePasses(
        TIME_STEPS.findIndex(([label]) => label === g[1]),
        g[2] !== undefined,
      ),
  ],
];

/** A command from its printed form (as a report shows it). */
export function parseCommand(text: string): Cmd {
  for (const [pattern, make] of parsers) {
    const match = pattern.exec(text.trim());
    if (match) return make(match.map((g) => g ?? undefined) as string[]);
  }
  throw new Error(`not a command: ${text}`);
}
