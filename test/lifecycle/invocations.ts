import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { lambdaContext } from '../../local/runner/events.js';

/**
 * Lambda invocations of the handlers, as the simulation runs them in this process: each runs in its own async
 * context (AsyncLocalStorage), with a deadline on the simulated clock, and can be killed as Lambda kills a function
 * (timeout, crash): from then on every AWS call it makes never answers, so nothing more of it lands anywhere, and
 * the invocation counts as ended without an answer.
 *
 * `install()` patches `send` of smithy's Client.prototype (every AWS SDK client: DynamoDB, SQS, Secrets Manager,
 * Scheduler, Lambda) and the global `fetch` (Personio) for that, and lets a hook answer an SQS command instead of SQS
 * (the simulated event source takes over ChangeMessageVisibility and DeleteMessage for the messages it delivered).
 */

export type FunctionName = 'fetch' | 'worker' | 'connect' | 'sweeper' | 'refresh';

/** Set on every HTTP request an invocation makes (the Personio router reads and removes it). */
export const INVOCATION_HEADER = 'x-lifecycle-invocation';

/** Deployed timeouts (infra/constructs/functions.ts). */
export const FUNCTION_TIMEOUT_MS: Record<FunctionName, number> = {
  connect: 25_000,
  fetch: 15 * 60_000,
  worker: 3 * 60_000,
  sweeper: 60_000,
  refresh: 5 * 60_000,
};

/**
 * Real time after which an invocation that neither answered nor was killed is taken for hung, and killed (reported
 * in `hung`). A fetch may wait at a closed gate for several steps, so it gets longer.
 */
const WATCHDOG_MS: Record<FunctionName, number> = { connect: 90_000, fetch: 600_000, worker: 120_000, sweeper: 90_000, refresh: 120_000 };

export interface Invocation {
  id: number;
  fn: FunctionName;
  /** Simulated epoch ms at which Lambda ends it. */
  deadline: number;
  dead: boolean;
  /** Why it was killed, for the report. */
  killedBy?: string;
  readonly died: Promise<void>;
  kill(reason: string): void;
}

export type InvocationOutcome<T> = { kind: 'returned'; value: T } | { kind: 'threw'; error: unknown } | { kind: 'killed'; reason: string };

/** An SQS command the hook answers itself (return undefined to let it through to SQS). */
export type SqsHook = (command: { constructor: { name: string }; input: Record<string, unknown> }) => unknown;

export class Invocations {
  private readonly als = new AsyncLocalStorage<Invocation>();
  private readonly running = new Set<Invocation>();
  private nextId = 1;
  private restoreSend: (() => void) | undefined;
  sqsHook: SqsHook | undefined;
  /** Invocations the watchdog had to kill (a handler that hung on its own). */
  readonly hung: { fn: FunctionName; id: number }[] = [];
  /** Every kill, as "<function>: <reason>" (for the coverage summary). */
  readonly killed: string[] = [];

  install(): void {
    if (this.restoreSend) return;
    const base = Object.getPrototypeOf(DynamoDBClient.prototype) as { send: (...args: unknown[]) => Promise<unknown> };
    const original = base.send;
    const self = this;
    base.send = function (this: unknown, command: unknown, ...rest: unknown[]) {
      if (self.als.getStore()?.dead) return new Promise(() => undefined);
      const hook = self.sqsHook;
      if (hook && (command as { constructor?: { name?: string } })?.constructor?.name?.match(/^(ChangeMessageVisibility|DeleteMessage)(Batch)?Command$/)) {
        const answer = hook(command as Parameters<SqsHook>[0]);
        if (answer !== undefined) return Promise.resolve(answer);
      }
      return original.call(this, command, ...rest);
    };
    // HTTP (Personio): a killed invocation makes no more calls; the others name themselves to the Personio router,
    // so its gate knows whose page it holds.
    const originalFetch = globalThis.fetch;
    globalThis.fetch = (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      const invocation = self.als.getStore();
      if (!invocation) return originalFetch(input, init);
      if (invocation.dead) return new Promise<Response>(() => undefined);
      const request = new Request(input, init);
      request.headers.set(INVOCATION_HEADER, String(invocation.id));
      return originalFetch(request);
    };
    this.restoreSend = () => {
      base.send = original;
      globalThis.fetch = originalFetch;
    };
  }

  uninstall(): void {
    this.restoreSend?.();
    this.restoreSend = undefined;
  }

  /** The invocation whose code is running now (undefined for the harness's own calls). */
  current(): Invocation | undefined {
    return this.als.getStore();
  }

  inFlight(): Invocation[] {
    return [...this.running];
  }

  /**
   * Runs `body` as one invocation of `fn` with a Lambda context (its remaining time on the simulated clock), and
   * answers how it ended. The invocation is registered before `body` starts, so a fault rule can name it.
   */
  start<T>(
    fn: FunctionName,
    body: (context: Context, invocation: Invocation) => Promise<T>,
    prepare?: (invocation: Invocation) => void,
  ): { invocation: Invocation; outcome: Promise<InvocationOutcome<T>> } {
    let markDead!: () => void;
    const died = new Promise<void>((resolve) => (markDead = resolve));
    const timeout = FUNCTION_TIMEOUT_MS[fn];
    const invocation: Invocation = {
      id: this.nextId++,
      fn,
      deadline: Date.now() + timeout,
      dead: false,
      died,
      kill: (reason: string) => {
        if (invocation.dead) return;
        this.killed.push(`${fn}: ${reason}`);
        invocation.dead = true;
        invocation.killedBy = reason;
        markDead();
      },
    };
    this.running.add(invocation);
    prepare?.(invocation);
    const context = lambdaContext(`personio-${fn}`, timeout);
    const ran = this.als.run(invocation, () => body(context, invocation));
    let watchdog: NodeJS.Timeout | undefined;
    const hung = new Promise<void>((resolve) => {
      watchdog = setTimeout(() => {
        this.hung.push({ fn, id: invocation.id });
        invocation.kill('hung (no answer within the watchdog)');
        resolve();
      }, WATCHDOG_MS[fn]);
    });
    const outcome: Promise<InvocationOutcome<T>> = Promise.race([
      ran.then(
        (value): InvocationOutcome<T> => (invocation.dead ? { kind: 'killed', reason: invocation.killedBy ?? 'killed' } : { kind: 'returned', value }),
        (error: unknown): InvocationOutcome<T> => (invocation.dead ? { kind: 'killed', reason: invocation.killedBy ?? 'killed' } : { kind: 'threw', error }),
      ),
      Promise.race([died, hung]).then((): InvocationOutcome<T> => ({ kind: 'killed', reason: invocation.killedBy ?? 'killed' })),
    ]).finally(() => {
      clearTimeout(watchdog);
      this.running.delete(invocation);
    });
    return { invocation, outcome };
  }

  /** Lambda ends every invocation whose deadline the (simulated) clock has passed. */
  killExpired(now: number): Invocation[] {
    const killed: Invocation[] = [];
    for (const invocation of this.running) {
      if (!invocation.dead && invocation.deadline <= now) {
        invocation.kill('timeout (the clock passed its deadline)');
        killed.push(invocation);
      }
    }
    return killed;
  }

  killAll(reason: string): void {
    for (const invocation of this.running) invocation.kill(reason);
  }
}
