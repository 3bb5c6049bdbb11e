import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PersonioClient, clearTokenCache, type ListEmployeesQuery } from '../../lib/personio/client.js';
import type { PersonioEmployee } from '../../lib/personio/employee.js';
import { PersonioError } from '../../lib/personio/errors.js';
import { PagingError, pageEmployees, type EmployeePageSource } from '../../lib/personio/pager.js';
import type { EmployeesPage } from '../../lib/personio/schemas.js';
import { startPersonioSim, type PersonioSim, type SimCredential } from '../../local/personio-sim/index.js';

/** pageEmployees with a real PersonioClient against the simulator, plus a property over an in-memory source. */

const CREDENTIALS: SimCredential = { clientId: 'papi-pager-test', clientSecret: 'papi-pager-secret' };
const PROJECTION = ['first_name', 'last_name', 'email'] as const;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The employee's id, or the number an id-less test employee carries as `key`. */
function idOf(employee: PersonioEmployee): number {
  return Number(employee['id']?.value ?? employee['key']?.value);
}

/** How often each id was handed to onPage. */
function occurrences(ids: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function sorted(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}

function newClient(sim: PersonioSim): PersonioClient {
  return new PersonioClient({ baseUrl: sim.url, appId: 'DADO_PAGER_TEST', credentials: CREDENTIALS });
}

beforeEach(() => {
  clearTokenCache();
});

describe('pageEmployees over a real client and the simulator', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 1_000, seed: 21, credentials: [CREDENTIALS] });
  });

  afterAll(async () => {
    await sim?.close();
  });

  beforeEach(() => {
    sim.resetRateLimits();
    sim.resetStats();
  });

  it('delivers 1,000 employees exactly once in 11 overlapping pages, projected to the requested attributes and id', async () => {
    // Prepare
    const client = newClient(sim);
    const delivered: PersonioEmployee[] = [];

    // Act
    const summary = await pageEmployees(client, { attributes: PROJECTION }, async (employees) => {
      delivered.push(...employees);
    });

    // Assess
    const ids = delivered.map(idOf);
    expect(ids).toHaveLength(1_000);
    expect(new Set(ids).size).toBe(1_000);
    expect(sorted(ids)).toEqual(sorted(sim.employees().map((e) => e.id)));
    // Page 0 reads 0–99, page p ≥ 1 reads 99p–99p+99: each starts with the employee the page before ended with.
    expect(summary).toMatchObject({ pages: 11, employees: 1_000, duplicatesDropped: 0, totalMoved: false, verificationPages: 0 });
    expect(sim.stats().employeeListRequests).toBe(11);
    const expectedKeys = ['id', ...PROJECTION].sort();
    for (const employee of delivered) expect(Object.keys(employee).sort()).toEqual(expectedKeys);
  });

  it('still delivers every employee once when asked for pages larger than Personio allows', async () => {
    // Prepare
    const client = newClient(sim);
    const ids: number[] = [];

    // Act
    const summary = await pageEmployees(client, { pageSize: 500, attributes: ['email'] }, async (employees) => {
      ids.push(...employees.map(idOf));
    });

    // Assess
    expect(sim.stats().maxLimitRequested).toBeLessThanOrEqual(100);
    expect(new Set(ids).size).toBe(ids.length);
    expect(sorted(ids)).toEqual(sorted(sim.employees().map((e) => e.id)));
    expect(summary.employees).toBe(1_000);
  });

  it('never runs onPage concurrently, and hands each page on as it arrives', async () => {
    // Prepare: a slow consumer, and a source that notes the order pages arrive in
    const client = newClient(sim);
    const arrivals: number[] = [];
    const source: EmployeePageSource = {
      async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
        const page = await client.listEmployees(query);
        arrivals.push(query.offset);
        return page;
      },
    };
    // A page's last employee tells its offset (its first may be the one the page before also holds).
    const offsetOf = new Map(sim.employees().map((e, index) => [e.id, index < 100 ? 0 : Math.ceil((index - 99) / 99) * 99]));
    let inFlight = 0;
    let maxInFlight = 0;
    const deliveries: { offset: number | undefined; arrivedSoFar: number }[] = [];

    // Act
    const summary = await pageEmployees(source, { attributes: ['email'], concurrency: 4 }, async (employees) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      deliveries.push({ offset: offsetOf.get(idOf(employees.at(-1)!)), arrivedSoFar: arrivals.length });
      await sleep(15);
      inFlight--;
    });

    // Assess
    expect(summary.pages).toBe(11);
    expect(maxInFlight).toBe(1);
    expect(deliveries).toHaveLength(11);
    // Page 0 is handed on before any other page has even arrived.
    expect(deliveries[0]).toEqual({ offset: 0, arrivedSoFar: 1 });
    // Pages are handed on in the order they arrived, each no earlier than its arrival.
    expect(deliveries.map((d) => d.offset)).toEqual(arrivals);
    deliveries.forEach((d, i) => {
      expect(d.arrivedSoFar).toBeGreaterThanOrEqual(i + 1);
    });
  });

  it('delivers an empty data set as zero employees after one page', async () => {
    // Prepare
    const empty = await startPersonioSim({ employees: 0, credentials: [CREDENTIALS] });
    try {
      const client = newClient(empty);
      let calls = 0;

      // Act
      const summary = await pageEmployees(client, {}, async () => {
        calls++;
      });

      // Assess
      expect(calls).toBe(0);
      expect(summary).toMatchObject({ pages: 1, employees: 0, totalMoved: false, verificationPages: 0 });
      expect(empty.stats().employeeListRequests).toBe(1);
    } finally {
      await empty.close();
    }
  });
});

describe('pageEmployees while employees are added and removed between pages', () => {
  let sim: PersonioSim;

  beforeAll(async () => {
    sim = await startPersonioSim({ employees: 1_000, seed: 22, credentials: [CREDENTIALS] });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('delivers every employee present throughout exactly once, and re-reads the list', async () => {
    // Prepare: after page 0, 30 employees of page 0 and 5 further on leave and 20 join, shifting later pages left
    const client = newClient(sim);
    const initial = sim.employees().map((e) => e.id);
    const leaving = [...initial.slice(10, 40), ...initial.slice(500, 505)];
    let joined: number[] = [];
    let calls = 0;
    const source: EmployeePageSource = {
      async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
        const page = await client.listEmployees(query);
        if (++calls === 1) {
          sim.removeEmployees(leaving);
          joined = sim.addEmployees(20);
        }
        return page;
      },
    };
    const delivered: number[] = [];

    // Act
    const summary = await pageEmployees(source, { attributes: ['email'] }, async (employees) => {
      delivered.push(...employees.map(idOf));
    });

    // Assess
    const counts = occurrences(delivered);
    const throughout = initial.filter((id) => !leaving.includes(id));
    const missing = throughout.filter((id) => counts.get(id) !== 1);
    expect(missing).toEqual([]);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const known = new Set([...initial, ...joined]);
    expect(delivered.every((id) => known.has(id))).toBe(true);
    expect(summary.totalMoved).toBe(true);
    expect(summary.verificationPages).toBeGreaterThan(0);
    expect(summary.employees).toBe(delivered.length);
  });
});

describe('pageEmployees when a page fails', () => {
  it('rejects, and neither fetches nor hands on anything after it has rejected', async () => {
    // Prepare: 11 pages; the page at offset 99 (the second) fails at once, the others take a moment
    const ids = Array.from({ length: 1_000 }, (_, i) => i + 1);
    const requested: number[] = [];
    const source: EmployeePageSource = {
      async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
        requested.push(query.offset);
        if (query.offset === 99) throw new PersonioError('unavailable', 'Personio answered 503', { status: 503 });
        await sleep(20);
        return pageOf(ids, query);
      },
    };
    let settled = false;
    let lateDeliveries = 0;

    // Act
    const outcome = await pageEmployees(source, { concurrency: 4 }, async () => {
      if (settled) lateDeliveries++;
    }).then(
      () => 'resolved',
      (error: unknown) => (error instanceof PersonioError ? error.code : 'other error'),
    );
    settled = true;
    const requestedWhenSettled = requested.length;
    await sleep(200);

    // Assess
    expect(outcome).toBe('unavailable');
    expect(lateDeliveries).toBe(0);
    expect(requested).toHaveLength(requestedWhenSettled);
  });
});

/** A Personio list page over an in-memory list of ids, as the v1 endpoint answers it. */
/** How a page looks: `pagesOnly` leaves out total_elements; `idless` employees carry their number as `key`, without an id. */
interface PageShape {
  pagesOnly?: boolean;
  idless?: (id: number) => boolean;
}

function pageOf(ids: readonly number[], query: ListEmployeesQuery, shape: PageShape = {}): EmployeesPage {
  const totalPages = Math.ceil(ids.length / query.limit);
  return {
    success: true,
    metadata: shape.pagesOnly
      ? { current_page: Math.floor(query.offset / query.limit), total_pages: totalPages }
      : { total_elements: ids.length, current_page: Math.floor(query.offset / query.limit), total_pages: totalPages },
    offset: query.offset,
    limit: query.limit,
    data: ids.slice(query.offset, query.offset + query.limit).map((id) => ({
      type: 'Employee',
      attributes: { [shape.idless?.(id) ? 'key' : 'id']: { value: id, type: shape.idless?.(id) ? 'standard' : 'integer' } },
    })),
  };
}

type Mutation = { kind: 'add'; at: number[] } | { kind: 'remove'; at: number[] } | { kind: 'replace'; at: number[] };

/**
 * An employee list that changes while it is paged: item offsets like Personio, each request answered from the list
 * as it is when the request arrives, answers released in an order fast-check picks. Mutations happen only while
 * requests 1 … the planned pages' count are answered: the first pass, or a re-read too when the first pass met the
 * list's end early (a list that shrank). `replace` removes
 * employees and as many join at the end, as when people leave and are hired: the total stays as it was, so only the
 * pages' overlap can show that the list moved.
 */
class ShiftingList implements EmployeePageSource {
  readonly snapshots: number[][];
  private ids: number[];
  private nextId: number;
  private calls = 0;
  private readonly mutableCalls: number;
  private readonly requests: { offset: number; mutated: boolean }[] = [];

  constructor(
    initial: number,
    pageSize: number,
    private readonly plan: readonly (Mutation | null)[],
    private readonly scheduler: fc.Scheduler,
    private readonly shape: PageShape = {},
  ) {
    this.ids = Array.from({ length: initial }, (_, i) => i + 1);
    this.nextId = initial + 1;
    this.snapshots = [[...this.ids]];
    // Calls 1 … plannedPages-1 are the concurrent first pass (pages after page 0 overlap by one employee).
    const stride = pageSize > 1 ? pageSize - 1 : 1;
    this.mutableCalls = initial <= pageSize ? 0 : Math.ceil((initial - pageSize) / stride);
  }

  /** The requests, grouped by pass (each starts at offset 0), and whether the list changed after the pass began. */
  passes(): { offsets: number[]; moved: boolean }[] {
    const passes: { offsets: number[]; moved: boolean }[] = [];
    for (const request of this.requests) {
      const pass = request.offset === 0 ? undefined : passes.at(-1);
      if (pass) {
        pass.offsets.push(request.offset);
        pass.moved ||= request.mutated;
      } else passes.push({ offsets: [request.offset], moved: false });
    }
    return passes;
  }

  listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
    const call = this.calls++;
    const mutation = call >= 1 && call <= this.mutableCalls ? this.plan[call - 1] : undefined;
    if (mutation) {
      this.apply(mutation);
      this.snapshots.push([...this.ids]);
    }
    this.requests.push({ offset: query.offset, mutated: Boolean(mutation) });
    return this.scheduler.schedule(Promise.resolve(pageOf(this.ids, query, this.shape)), `offset ${query.offset}`);
  }

  private apply(mutation: Mutation): void {
    if (mutation.kind === 'add') {
      for (const at of mutation.at) this.ids.splice(at % (this.ids.length + 1), 0, this.nextId++);
    } else if (this.ids.length > 0) {
      const doomed = new Set(mutation.at.map((at) => this.ids[at % this.ids.length]));
      this.ids = this.ids.filter((id) => !doomed.has(id));
      if (mutation.kind === 'replace') for (let i = 0; i < doomed.size; i++) this.ids.push(this.nextId++);
    }
  }
}

/**
 * One paging run over a ShiftingList, asserting what the property promises: never an employee twice, never one that
 * was never listed, and every employee present in all snapshots delivered, unless the pager refused the list as
 * incomplete, which it may only do when the list moved during every pass it read (a pass starts at offset 0).
 */
async function checkShiftingRun(
  initial: number,
  pageSize: number,
  concurrency: number,
  plan: readonly (Mutation | null)[],
  pagesOnly: boolean,
  idlessEvery: number,
  scheduler: fc.Scheduler,
): Promise<void> {
  // Prepare
  const idless = (id: number) => idlessEvery > 0 && id % idlessEvery === 0;
  const list = new ShiftingList(initial, pageSize, plan, scheduler, { pagesOnly, idless });
  const delivered: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  // Act
  const outcome = await scheduler
    .waitFor(
      pageEmployees(list, { pageSize, concurrency }, async (employees) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        delivered.push(...employees.map(idOf));
        await scheduler.schedule(Promise.resolve(), 'onPage');
        inFlight--;
      }),
    )
    .then(
      (summary) => ({ summary, error: undefined }),
      (error: unknown) => ({ summary: undefined, error }),
    );

  // Assess
  const counts = occurrences(delivered);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
  const ever = new Set(list.snapshots.flat());
  expect(delivered.filter((id) => !ever.has(id))).toEqual([]);
  expect(maxInFlight).toBeLessThanOrEqual(1);
  const { summary, error } = outcome;
  if (!summary) {
    expect(error).toBeInstanceOf(PagingError);
    expect((error as PagingError).code).toBe('list_unstable');
    expect(list.passes().filter((pass) => !pass.moved)).toEqual([]);
    return;
  }
  const [first = [], ...rest] = list.snapshots;
  const throughout = first.filter((id) => rest.every((snapshot) => snapshot.includes(id)));
  expect(throughout.filter((id) => !counts.has(id))).toEqual([]);
  expect(summary.employees).toBe(delivered.length);
  // A replacement behind every page read needs no second pass; a moved total always gets one (without
  // total_elements a move within the last page cannot be seen, and the planned pages reach it anyway).
  if (!pagesOnly && list.snapshots.some((snapshot) => snapshot.length !== first.length)) expect(summary.totalMoved).toBe(true);
}

/** A scheduler for a replay: with one page in flight at a time, the order it releases them in cannot matter. */
function replayScheduler(): fc.Scheduler {
  const [scheduler] = fc.sample(fc.scheduler(), { numRuns: 1, seed: 1 });
  if (!scheduler) throw new Error('fast-check produced no scheduler');
  return scheduler;
}

describe('pageEmployees, property: over a list that shifts between pages', () => {
  it('never delivers an employee twice, and delivers every employee present in all snapshots (with or without totals and ids)', async () => {
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('remove' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('replace' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
    );

    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        // A page of one cannot overlap its neighbour; Personio's pages hold 100.
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.option(mutation, { nil: null }), { maxLength: 12 }),
        // Metadata without total_elements; every n-th employee without an id (0: all have one).
        fc.boolean(),
        fc.constantFrom(0, 3, 7),
        fc.scheduler(),
        checkShiftingRun,
      ),
      { numRuns: 300 },
    );
  });

  it('delivers an employee the list shifts past a page boundary during the re-read (seed -620386730)', async () => {
    // Prepare: 8 employees in pages of 2; the first pass ends early at a short page (the list shrank), so the last two
    // mutations land in the re-read, each moving one employee out of a page not yet read: employee 7 slips behind the
    // re-read's page 2 while it is read
    const plan: Mutation[] = [
      { kind: 'add', at: [0] },
      { kind: 'remove', at: [0] },
      { kind: 'remove', at: [0] },
      { kind: 'remove', at: [0, 8_123_704] },
      { kind: 'replace', at: [0] },
      { kind: 'replace', at: [0] },
    ];

    // Act, Assess
    await checkShiftingRun(8, 2, 1, plan, false, 0, replayScheduler());
  });
});

describe('pageEmployees when page 0 overstates the total', () => {
  it('stops at the first short page instead of paging through empty offsets, and re-reads once', async () => {
    // Prepare: 250 employees, but every page claims a trillion
    const ids = Array.from({ length: 250 }, (_, i) => i + 1);
    const offsets: number[] = [];
    const source: EmployeePageSource = {
      async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
        offsets.push(query.offset);
        const page = pageOf(ids, query);
        return { ...page, metadata: { total_elements: 1e12, current_page: 0, total_pages: 1e10 } };
      },
    };
    const delivered: number[] = [];

    // Act
    const summary = await pageEmployees(source, { concurrency: 4 }, async (employees) => {
      delivered.push(...employees.map(idOf));
    });

    // Assess: every employee once, and a bounded number of requests (first pass, in-flight pages, verification pass)
    expect(sorted(delivered)).toEqual(ids);
    expect(summary.totalMoved).toBe(true);
    expect(offsets.length).toBeLessThan(15);
  });
});

describe('pageEmployees, shifts the metadata alone cannot show', () => {
  /** An in-memory list answered page by page (one at a time), changed by `after` once `calls` pages were answered. */
  function shiftingSource(ids: number[], shape: PageShape, calls: number, after: (ids: number[]) => number[]): EmployeePageSource & { requests: number[] } {
    let current = ids;
    const requests: number[] = [];
    return {
      requests,
      async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
        const page = pageOf(current, query, shape);
        requests.push(query.offset);
        if (requests.length === calls) current = after(current);
        return page;
      },
    };
  }

  it('re-reads when the employees at a page boundary have no id, so the one between them is not lost', async () => {
    // Prepare: 300 employees, those at positions 198 and 200 without an id; after two pages, two leave from page 0 and two join
    const ids = Array.from({ length: 300 }, (_, i) => i + 1);
    const source = shiftingSource(ids, { idless: (id) => id === 199 || id === 201 }, 2, (list) => [...list.filter((id) => id !== 5 && id !== 6), 301, 302]);
    const delivered: number[] = [];

    // Act
    const summary = await pageEmployees(source, { concurrency: 1 }, async (employees) => void delivered.push(...employees.map(idOf)));

    // Assess: employee 200 (between the two) shifted into page 1 after it was read; the pass that re-reads finds them
    expect(ids.filter((id) => id !== 5 && id !== 6 && !delivered.includes(id))).toEqual([]);
    expect(delivered.length).toBe(new Set(delivered).size);
    expect(summary.totalMoved).toBe(true);
  });

  it('re-reads when total_pages grows and page 0 gave no total_elements', async () => {
    // Prepare: 200 employees, no total_elements; after two pages, 99 join at position 199 (pushing the last one to a third page)
    const ids = Array.from({ length: 200 }, (_, i) => i + 1);
    const joiners = Array.from({ length: 99 }, (_, i) => 1_000 + i);
    const source = shiftingSource(ids, { pagesOnly: true }, 2, (list) => [...list.slice(0, 199), ...joiners, ...list.slice(199)]);
    const delivered: number[] = [];

    // Act
    const summary = await pageEmployees(source, { concurrency: 1 }, async (employees) => void delivered.push(...employees.map(idOf)));

    // Assess
    expect(sorted(delivered)).toEqual(sorted([...ids, ...joiners]));
    expect(summary.totalMoved).toBe(true);
  });

  it('refuses a list that moves during every pass instead of handing on a list with someone missing', async () => {
    // Prepare: 300 employees; before every page but a pass's first, the list's first employee leaves and one joins at
    // the end, so each page after page 0 starts one employee late and the total never moves
    let ids = Array.from({ length: 300 }, (_, i) => i + 1);
    let nextId = 301;
    const offsets: number[] = [];
    const source: EmployeePageSource = {
      async listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage> {
        offsets.push(query.offset);
        if (query.offset > 0) ids = [...ids.slice(1), nextId++];
        return pageOf(ids, query);
      },
    };
    const delivered: number[] = [];

    // Act
    const outcome = await pageEmployees(source, { concurrency: 1 }, async (employees) => void delivered.push(...employees.map(idOf))).then(
      () => 'resolved',
      (error: unknown) => (error instanceof PagingError ? error.code : 'other error'),
    );

    // Assess: three passes of four pages (0, 99, 198, 297), then the run is refused; nobody was handed on twice
    expect(outcome).toBe('list_unstable');
    expect(offsets).toEqual([0, 99, 198, 297, 0, 99, 198, 297, 0, 99, 198, 297]);
    expect(delivered.length).toBe(new Set(delivered).size);
  });

  it('needs no second pass for a list without total_elements that does not change', async () => {
    // Prepare: 150 employees, total_pages only (2): where the list ends is known only within a page
    const ids = Array.from({ length: 150 }, (_, i) => i + 1);
    const source = shiftingSource(ids, { pagesOnly: true }, 0, (list) => list);
    const delivered: number[] = [];

    // Act
    const summary = await pageEmployees(source, { concurrency: 1 }, async (employees) => void delivered.push(...employees.map(idOf)));

    // Assess
    expect(sorted(delivered)).toEqual(ids);
    expect(summary).toMatchObject({ totalMoved: false, verificationPages: 0, duplicatesDropped: 0 });
    expect(source.requests).toEqual([0, 99]);
  });
});
