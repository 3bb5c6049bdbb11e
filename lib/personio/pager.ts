import { compactEmployee, employeeId, type PersonioEmployee } from './employee.js';
import { MAX_PAGE_SIZE, type ListEmployeesQuery } from './client.js';
import type { EmployeesPage } from './schemas.js';

export interface EmployeePageSource {
  listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage>;
}

export interface PageEmployeesOptions {
  /** Projection: the attributes the tenant's mapping needs. */
  attributes?: readonly string[];
  /** Personio's maximum since January 2025; at least 2, so that pages can overlap. */
  pageSize?: number;
  /** Pages in flight at once; the client's rate limiter does the pacing, this only bounds memory. */
  concurrency?: number;
}

export interface PagingSummary {
  pages: number;
  employees: number;
  duplicatesDropped: number;
  /** The list moved while paging (a total, where it ended, or a page's overlap with its neighbour), so it was re-read. */
  totalMoved: boolean;
  /** Pages read after the first pass, by the passes that re-read the list. */
  verificationPages: number;
  /** Personio's own count of the list (total_elements) on the last page that arrived; undefined if it never said. */
  total?: number;
}

/** The pager refused a list it could not read whole: a run that goes on with it could deactivate someone listed. */
export class PagingError extends Error {
  override readonly name = 'PagingError';
  readonly code = 'list_unstable';
}

type Deliver = (employees: PersonioEmployee[]) => Promise<void>;
type Shared = { first: boolean; last: boolean };
/** A page as the overlap check needs it: its edge employees' keys, its size, and whether it shows where the list ends. */
type Edges = { first: string | undefined; last: string | undefined; length: number; endsList: boolean };

const NOT_SHARED: Shared = { first: false, last: false };
/** The first pass and up to two re-reads; a list that moves during all three fails the run rather than miss someone. */
const MAX_PASSES = 3;

/**
 * Pages through every employee: page 0 tells the total, the other pages run concurrently, and each
 * page is handed on as soon as it arrives (one at a time, so the consumer needs no locking).
 *
 * Offset paging over a list that changes mid-run can shift an employee across a page boundary unseen:
 * one who leaves from an already-read page moves everyone after them one place towards it, so the
 * first employee of a page not yet read slips into the page before. When as many join as leave, the
 * total does not move either. So the pages after page 0 overlap their neighbour by one employee: each
 * starts with the one the page before ended with. A pass whose pages chain like that, each full but the
 * last, and whose last page shows the list's end, has read every employee present throughout it,
 * however the list moved (the list keeps its order). A pass that does not chain (or a first pass that
 * saw the total move) is followed by a re-read, itself checked the same way: a re-read the list moved
 * under is no proof either, so the list is read again, and refused after MAX_PASSES.
 */
export async function pageEmployees(source: EmployeePageSource, options: PageEmployeesOptions, onPage: Deliver): Promise<PagingSummary> {
  // The client never asks for more than Personio serves, so the offsets must step by what a page really holds; a page
  // of one could not overlap its neighbour, and nothing would show a shift.
  const pageSize = Math.min(Math.max(2, Math.trunc(options.pageSize ?? MAX_PAGE_SIZE)), MAX_PAGE_SIZE);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const seen = new Set<string>();
  const summary: PagingSummary = { pages: 0, employees: 0, duplicatesDropped: 0, totalMoved: false, verificationPages: 0 };

  let delivering: Promise<void> = Promise.resolve();
  /** `shared`: the page's first (last) employee is also its neighbour's last (first), so seeing it twice is expected. */
  const deliver = (page: EmployeesPage, shared: Shared = NOT_SHARED): Promise<void> => {
    const fresh: PersonioEmployee[] = [];
    const lastIndex = page.data.length - 1;
    page.data.forEach((raw, index) => {
      const employee = compactEmployee(raw);
      const key = keyOf(employee);
      if (seen.has(key)) {
        const edge = (shared.first && index === 0) || (shared.last && index === lastIndex);
        if (!edge) summary.duplicatesDropped++;
        return;
      }
      seen.add(key);
      fresh.push(employee);
    });
    summary.employees += fresh.length;
    if (fresh.length === 0) return delivering;
    delivering = delivering.then(() => onPage(fresh));
    return delivering;
  };

  const fetchPage = async (offset: number): Promise<{ page: EmployeesPage; edges: Edges }> => {
    const page = await source.listEmployees({ limit: pageSize, offset, ...(options.attributes ? { attributes: options.attributes } : {}) });
    summary.pages++;
    // The latest count wins: after a re-read it is the count of the list that pass read.
    if (page.metadata?.total_elements !== undefined) summary.total = page.metadata.total_elements;
    return { page, edges: edgesOf(page, offset, pageSize) };
  };

  for (let pass = 1; ; pass++) {
    const before = summary.pages;
    const { chained, moved } = await readPass(fetchPage, deliver, pageSize, concurrency);
    if (pass > 1) summary.verificationPages += summary.pages - before;
    // A re-read is judged by its chain alone: a total that overstates the list would otherwise never let it pass.
    if (chained && (pass > 1 || !moved)) break;
    summary.totalMoved = true;
    if (pass === MAX_PASSES) {
      await delivering;
      throw new PagingError(
        `Personio's employee list kept changing while it was read (${pass} passes), so the run cannot tell who is missing from it; the next import reads it again.`,
      );
    }
  }
  await delivering;
  return summary;
}

/**
 * One pass over the list: page 0, the pages it plans concurrently, then (while they chain but have not reached the
 * list's end: the list grew, or page 0 told no total) further pages one by one. `chained`: the pages read one list
 * whole; `moved`: a page's total or the list's end disagreed with page 0.
 */
async function readPass(
  fetchPage: (offset: number) => Promise<{ page: EmployeesPage; edges: Edges }>,
  deliver: (page: EmployeesPage, shared?: Shared) => Promise<void>,
  pageSize: number,
  concurrency: number,
): Promise<{ chained: boolean; moved: boolean }> {
  // One employee of overlap costs one request in 99.
  const stride = pageSize - 1;
  const { page: first, edges: firstEdges } = await fetchPage(0);
  // An empty list at page 0's moment holds nobody who is present throughout.
  if (first.data.length === 0) return { chained: true, moved: false };
  const bounds = totalBounds(first, pageSize);
  // Page p (p ≥ 1) reads [p·stride, p·stride + pageSize): the last one reaches the last employee.
  const plannedPages = bounds === undefined || bounds.max <= pageSize ? 1 : 1 + Math.ceil((bounds.max - pageSize) / stride);
  await deliver(first, { first: false, last: !firstEdges.endsList });
  const edges: (Edges | undefined)[] = [firstEdges];
  let moved = false;

  const observe = (index: number, page: EmployeesPage, pageEdges: Edges): void => {
    const { total_elements: total, total_pages: totalPages } = page.metadata ?? {};
    if (total !== undefined && total !== first.metadata?.total_elements) moved = true;
    if (totalPages !== undefined && totalPages !== first.metadata?.total_pages) moved = true;
    edges[index] = pageEdges;
  };

  let next = 1;
  // A page that comes back short is where the list ends: no page after it is needed. If that end is not where page 0
  // said it would be (a list that shrank, or a total that overstates it), the list moved; either way the run must not
  // page on through empty offsets until its time runs out.
  let end = firstEdges.endsList ? 1 : plannedPages;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    try {
      while (!failure && next < end) {
        const index = next++;
        const { page, edges: pageEdges } = await fetchPage(index * stride);
        // Another page failed meanwhile: the run is over, so nothing more is handed on.
        if (failure) return;
        if (page.data.length < pageSize) {
          end = Math.min(end, index + 1);
          const listEnd = index * stride + page.data.length;
          if (bounds && (listEnd < bounds.min || listEnd > bounds.max)) moved = true;
        }
        observe(index, page, pageEdges);
        await deliver(page, { first: true, last: index < plannedPages - 1 });
      }
    } catch (error) {
      failure ??= { error };
    }
  };
  // Waits for the pages still in flight, so that nothing is fetched or handed on once this has failed.
  await Promise.all(Array.from({ length: Math.min(concurrency, end - 1) }, worker));
  if (failure) throw failure.error;

  if (!chains(edges.slice(0, end), pageSize)) return { chained: false, moved: true };
  // The planned pages chain but the last is full and no total says the list ends there: it goes on (or page 0 told
  // no total), so read on one page at a time while the chain holds.
  if (bounds !== undefined && !edges[end - 1]?.endsList) moved = true;
  for (let index = end; !edges[index - 1]?.endsList; index++) {
    const { page, edges: pageEdges } = await fetchPage(index * stride);
    observe(index, page, pageEdges);
    if (!chains([edges[index - 1], pageEdges], pageSize)) return { chained: false, moved: true };
    await deliver(page, { first: true, last: !pageEdges.endsList });
  }
  return { chained: true, moved };
}

/** The key an employee is handed on and recognised by: its id, or (without one; the worker reports it) its content. */
function keyOf(employee: PersonioEmployee): string {
  const id = employeeId(employee);
  return id === undefined ? JSON.stringify(employee) : `id:${id}`;
}

/**
 * How many employees page 0 says there are: exactly, from `total_elements`; or within a page, from `total_pages`
 * alone (what the pages before the last hold is known, the last one's count is not).
 */
function totalBounds(first: EmployeesPage, pageSize: number): { min: number; max: number } | undefined {
  const total = first.metadata?.total_elements;
  if (total !== undefined) return { min: total, max: total };
  const pages = first.metadata?.total_pages;
  if (pages === undefined) return undefined;
  return { min: Math.max(first.data.length, (pages - 1) * pageSize + 1), max: Math.max(first.data.length, pages * pageSize) };
}

/**
 * A page's edges, and whether it shows where the list ended when it was read: a short page does; a full one only when
 * its own metadata says the list holds exactly as many as it reaches (a total it exceeds is wrong, and proves nothing).
 */
function edgesOf(page: EmployeesPage, offset: number, pageSize: number): Edges {
  const at = (i: number) => {
    const raw = page.data[i];
    return raw === undefined ? undefined : keyOf(compactEmployee(raw));
  };
  const reach = offset + page.data.length;
  const { total_elements: total, total_pages: totalPages } = page.metadata ?? {};
  const endsList = page.data.length < pageSize || (total !== undefined ? reach === total : totalPages !== undefined && reach === totalPages * pageSize);
  return { first: at(0), last: at(page.data.length - 1), length: page.data.length, endsList };
}

/** Whether consecutive pages read one list without a gap: every page but the last full, neighbours sharing their edge employee. */
function chains(edges: readonly (Edges | undefined)[], pageSize: number): boolean {
  for (let p = 0; p < edges.length; p++) {
    const page = edges[p];
    if (!page) return false;
    if (p < edges.length - 1 && page.length < pageSize) return false;
    // An employee without an id is matched by content, as it is deduplicated: only an id-less twin with the same
    // content could pass for it (matching ids alone would refuse every list with one at a page edge, however still).
    if (p > 0 && (page.first === undefined || page.first !== edges[p - 1]?.last)) return false;
  }
  return true;
}
