import fc from 'fast-check';
import { commandArbitrary, FirstConnect, parseCommand, Settle } from './commands/index.js';
import { Model } from './model.js';
import { InvariantViolation } from './observe.js';
import { forget, ignoreInvariants } from './step.js';
import type { World } from './world.js';

/**
 * Runs sequences of commands against the world, one fast-check run per sequence (seed `seed + i`), each on a fresh
 * tenant with a fresh Personio (3–30 employees, sometimes 110–220): connect, the sequence, then a final settle. A sequence that breaks
 * an invariant is shrunk (within a limit) and reported with its seed and its shortest form (which `replay` runs again).
 */

export interface SimulationOptions {
  sequences: number;
  seed: number;
  /** Commands per sequence at most (default 40; those whose precondition does not hold are skipped). */
  maxCommands?: number;
  /** Shrink steps per failing sequence at most (default 60); 0 reports the sequence as found. */
  shrinks?: number;
  /** Real time a failing sequence may spend shrinking (default 120 s). */
  shrinkTimeMs?: number;
  /** Invariants (name prefixes, e.g. "inv3 one run") not to fail on. */
  ignore?: readonly string[];
  onSequence?: (done: number, violation: ViolationReport | undefined) => void;
}

export interface ViolationReport {
  seed: number;
  invariant: string;
  detail: string;
  /** The shortest failing sequence found, command by command. */
  commands: string[];
  /** A failure of the simulation itself (not an invariant): reported so it cannot hide one. */
  harnessError: boolean;
}

export interface SimulationResult {
  sequences: number;
  violations: ViolationReport[];
  durationMs: number;
  notes: string[];
  /** What the sequences did (runs by outcome, approvals, faults that fired, kills, …), for reading how much they exercised. */
  coverage: [string, number][];
}

export async function simulate(world: World, options: SimulationOptions): Promise<SimulationResult> {
  const started = performance.now();
  const violations: ViolationReport[] = [];
  const notes: string[] = [];
  if (world.sweeperProblem) notes.push(world.sweeperProblem);
  ignoreInvariants(options.ignore ?? []);
  if (options.ignore?.length) notes.push(`not failing on: ${options.ignore.join('; ')}`);
  const commands = fc.commands([commandArbitrary()], { maxCommands: options.maxCommands ?? 40, size: 'max' });
  const sequence = options.shrinks === 0 ? fc.noShrink(commands) : fc.limitShrink(commands, options.shrinks ?? 60);
  // Mostly small tenants (one page, one message per run); some of 110–220 employees: several pages, and several
  // messages per run that workers process at once.
  const employees = fc.oneof(
    { weight: 6, arbitrary: fc.noBias(fc.integer({ min: 3, max: 30 })) },
    { weight: 1, arbitrary: fc.noBias(fc.integer({ min: 110, max: 220 })) },
  );
  const tenantSetup = fc.record({ employees, seed: fc.integer({ min: 1, max: 1_000_000 }) });

  const property = fc.asyncProperty(tenantSetup, sequence, async (setup, cmds) => {
    const tenant = await world.newTenant(setup);
    const model = new Model(
      tenant.id,
      tenant.sim.employees().map((e) => e.id),
      { sweeper: world.sweeper !== undefined },
    );
    try {
      await new FirstConnect().run(model, tenant);
      await fc.asyncModelRun(() => ({ model, real: tenant }), cmds);
      await new Settle().run(model, tenant);
    } finally {
      forget(model);
      await tenant.close();
    }
  });

  for (let i = 0; i < options.sequences; i++) {
    const seed = options.seed + i;
    const result = await fc.check(property, {
      seed,
      numRuns: 1,
      interruptAfterTimeLimit: options.shrinkTimeMs ?? 120_000,
      // Without shrinking, the sequence as found (its tenant too).
      ...(options.shrinks === 0 ? { endOnFailure: true } : {}),
    });
    let report: ViolationReport | undefined;
    if (result.failed && result.counterexample) {
      const [setup, cmds] = result.counterexample;
      const error = result.errorInstance;
      const violation = error instanceof InvariantViolation ? error : undefined;
      report = {
        seed,
        invariant: violation?.invariant ?? 'harness error',
        detail: violation?.detail ?? harnessError(error),
        commands: [`Tenant(${setup.employees} employees, simulator seed ${setup.seed})`, 'ConnectWithCustomFields', ...executed(cmds), 'Settle'],
        harnessError: !violation,
      };
      violations.push(report);
    }
    options.onSequence?.(i + 1, report);
  }
  for (const hung of world.invocations.hung) notes.push(`a ${hung.fn} invocation (#${hung.id}) hung and was killed by the watchdog`);
  for (const fault of world.faults.stats.faults) world.coverage.add(`faults injected: ${fault.rule} (${fault.operation})`);
  world.faults.stats.faults.length = 0;
  for (const hung of world.invocations.killed.splice(0)) world.coverage.add(`invocations killed: ${hung}`);
  return { sequences: options.sequences, violations, durationMs: performance.now() - started, notes, coverage: world.coverage.entries() };
}

/** The commands fast-check ran (its toString lists only those whose precondition held), one per entry. */
function executed(cmds: Iterable<fc.AsyncCommand<Model, unknown>>): string[] {
  const text = String(cmds).replace(/\s*\/\*replayPath=.*?\*\//g, '');
  return text === '' ? [] : text.split(/,(?![^(]*\))/).map((s) => s.trim());
}

/** A failure of the simulation itself, without anything that could be an employee's value (addresses). */
function harnessError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/[^\s"'<>]+@[^\s"'<>]+/g, '<address>').slice(0, 500);
}

export function formatViolation(v: ViolationReport): string {
  const where = Number.isNaN(v.seed) ? 'replay' : `seed ${v.seed}`;
  return `${where}: ${v.invariant}: ${v.detail} | shortest sequence: ${v.commands.join(' → ')}`;
}

/**
 * Runs one printed sequence again, as a report shows it (`Tenant(…) → Connect → … → Settle`), without shrinking:
 * answers the violation it hits, if any. A command whose precondition does not hold is skipped, as in a generated run.
 */
export async function replay(world: World, printed: string, options: { ignore?: readonly string[] } = {}): Promise<ViolationReport | undefined> {
  ignoreInvariants(options.ignore ?? []);
  const parts = printed
    .split('→')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const tenantSpec = /^Tenant\((\d+) employees, simulator seed (\d+)\)$/.exec(parts[0] ?? '');
  if (!tenantSpec) throw new Error('a replayed sequence starts with Tenant(N employees, simulator seed S)');
  const commands = parts.slice(1).map(parseCommand);
  const tenant = await world.newTenant({ employees: Number(tenantSpec[1]), seed: Number(tenantSpec[2]) });
  const model = new Model(
    tenant.id,
    tenant.sim.employees().map((e) => e.id),
    { sweeper: world.sweeper !== undefined },
  );
  try {
    for (const command of commands) if (command.check(model)) await command.run(model, tenant);
    return undefined;
  } catch (error) {
    const violation = error instanceof InvariantViolation ? error : undefined;
    return {
      seed: Number.NaN,
      invariant: violation?.invariant ?? 'harness error',
      detail: violation?.detail ?? harnessError(error),
      commands: parts,
      harnessError: !violation,
    };
  } finally {
    forget(model);
    await tenant.close();
  }
}
