import { compactEmployee, employeeId, type PersonioEmployee } from './employee.js';
import { MAX_PAGE_SIZE, type ListEmployeesQuery } from './client.js';
import type { EmployeesPage } from './schemas.js';

export interface EmployeePageSource {
  listEmployees(query: ListEmployeesQuery): Promise<EmployeesPage>;
}

export interface PageEmployeesOptions {
  /** Projection: the attributes the tenant's mapping needs. */
  attributes?: readonly string[];
  /** Personio's maximum since January 2025. */
  pageSize?: number;
  /** Pages in flight at once; the client's rate limiter does the pacing, this only bounds memory. */
  concurrency?: number;
}

export interface PagingSummary {
  pages: number;
  employees: number;
  duplicatesDropped: number;
  /** The total changed while paging, so a verification pass re-read the list. */
  totalMoved: boolean;
  verificationPages: number;
  /** Personio's own count of the list (total_elements) on the last page that arrived; undefined if it never said. */
  total?: number;
}

type Deliver = (employees: PersonioEmployee[]) => Promise<void>;

const NOT_SHARED = { first: false, last: false };

/**
 * Pages through every employee: page 0 tells the total, the other pages run concurrently, and each
 * page is handed on as soon as it arrives (one at a time, so the consumer needs no locking).
 *
 * Offset paging over a list that changes mid-run can shift an employee across a page boundary unseen:
 * one who leaves from an already-read page moves everyone after them one place towards it, so the
 * first employee of a page not yet read slips into the page before. When as many join as leave, the
 * total does not move either. So the pages after page 0 overlap their neighbour by one employee: each
 * starts with the one the page before ended with, and a page whose first employee is not its
 * neighbour's last (or a page that comes back short or with another total) means the list moved under
 * the run; a verification pass then re-reads it and hands on only employees not seen yet.
 */
export async function pageEmployees(source: EmployeePageSource, options: PageEmployeesOptions, onPage: Deliver): Promise<PagingSummary> {
  // The client never asks for more than Personio serves, so the offsets must step by what a page really holds.
  const pageSize = Math.min(Math.max(1, Math.trunc(options.pageSize ?? MAX_PAGE_SIZE)), MAX_PAGE_SIZE);
  // One employee of overlap costs one request in 99; a page of one cannot overlap.
  const stride = pageSize > 1 ? pageSize - 1 : 1;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const seen = new Set<number | string>();
  const summary: PagingSummary = { pages: 0, employees: 0, duplicatesDropped: 0, totalMoved: false, verificationPages: 0 };

  let delivering: Promise<void> = Promise.resolve();
  /** `shared`: the page's first (last) employee is also its neighbour's last (first), so seeing it twice is expected. */
  const deliver = (page: EmployeesPage, shared: { first: boolean; last: boolean } = NOT_SHARED): Promise<void> => {
    const fresh: PersonioEmployee[] = [];
    const lastIndex = page.data.length - 1;
    page.data.forEach((raw, index) => {
      const employee = compactEmployee(raw);
      // An employee without an id (the worker reports it) is known by its content, so it is handed on once too.
      const key = employeeId(employee) ?? JSON.stringify(employee);
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

  const fetchPage = async (offset: number): Promise<EmployeesPage> => {
    const page = await source.listEmployees({ limit: pageSize, offset, ...(options.attributes ? { attributes: options.attributes } : {}) });
    summary.pages++;
    // The latest count wins: after a verification pass it is the count of the list that pass read.
    if (page.metadata?.total_elements !== undefined) summary.total = page.metadata.total_elements;
    return page;
  };

  const first = await fetchPage(0);
  const bounds = totalBounds(first, pageSize);
  if (first.data.length === 0) return summary;

  if (bounds === undefined) {
    await deliver(first);
    // No metadata: walk until an empty or short page.
    await sequentialFrom(pageSize, fetchPage, deliver, pageSize);
    return summary;
  }

  // Page p (p ≥ 1) reads [p·stride, p·stride + pageSize): the last one reaches the last employee.
  const plannedPages = bounds.max <= pageSize ? 1 : 1 + Math.ceil((bounds.max - pageSize) / stride);
  const overlapping = stride < pageSize;
  await deliver(first, { first: false, last: overlapping && plannedPages > 1 });
  const edges: ({ first: number | undefined; last: number | undefined; length: number } | undefined)[] = [edgesOf(first)];

  const observe = (index: number, page: EmployeesPage): void => {
    const { total_elements: total, total_pages: totalPages } = page.metadata ?? {};
    if (total !== undefined && total !== first.metadata?.total_elements) summary.totalMoved = true;
    if (totalPages !== undefined && totalPages !== first.metadata?.total_pages) summary.totalMoved = true;
    edges[index] = edgesOf(page);
  };

  let next = 1;
  // A page that comes back short is where the list ends: no page after it is needed. If that end is not where page 0
  // said it would be (a list that shrank, or a total that overstates it), the list moved; either way the run must not
  // page on through empty offsets until its time runs out.
  let end = plannedPages;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    try {
      while (!failure && next < end) {
        const index = next++;
        const page = await fetchPage(index * stride);
        // Another page failed meanwhile: the run is over, so nothing more is handed on.
        if (failure) return;
        if (page.data.length < pageSize) {
          end = Math.min(end, index + 1);
          const listEnd = index * stride + page.data.length;
          if (listEnd < bounds.min || listEnd > bounds.max) summary.totalMoved = true;
        }
        observe(index, page);
        await deliver(page, { first: overlapping, last: overlapping && index < plannedPages - 1 });
      }
    } catch (error) {
      failure ??= { error };
    }
  };
  // Waits for the pages still in flight, so that nothing is fetched or handed on once this has failed.
  await Promise.all(Array.from({ length: Math.min(concurrency, plannedPages - 1) }, worker));
  if (failure) throw failure.error;

  if (!summary.totalMoved && !edgesAgree(edges.slice(0, end), pageSize, stride)) summary.totalMoved = true;

  if (summary.totalMoved) {
    // Re-reads the whole list (joiners land beyond the planned pages, leavers shift the rest).
    const before = summary.pages;
    await sequentialFrom(0, fetchPage, deliver, pageSize);
    summary.verificationPages = summary.pages - before;
  }
  await delivering;
  return summary;
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

function edgesOf(page: EmployeesPage): { first: number | undefined; last: number | undefined; length: number } {
  const at = (i: number) => {
    const raw = page.data[i];
    return raw === undefined ? undefined : employeeId(compactEmployee(raw));
  };
  return { first: at(0), last: at(page.data.length - 1), length: page.data.length };
}

/** Whether the planned pages read one unchanged list: every page but the last full, neighbours sharing their edge employee. */
function edgesAgree(
  edges: readonly ({ first: number | undefined; last: number | undefined; length: number } | undefined)[],
  pageSize: number,
  stride: number,
): boolean {
  for (let p = 0; p < edges.length; p++) {
    const page = edges[p];
    if (!page) return false;
    if (p < edges.length - 1 && page.length < pageSize) return false;
    // An employee without an id cannot show that it is the same one: treated as a shift (a second pass costs requests, a miss costs a user).
    if (p > 0 && stride < pageSize && (page.first === undefined || page.first !== edges[p - 1]?.last)) return false;
  }
  return true;
}

async function sequentialFrom(
  start: number,
  fetchPage: (offset: number) => Promise<EmployeesPage>,
  deliver: (page: EmployeesPage) => Promise<void>,
  pageSize: number,
): Promise<void> {
  for (let offset = start; ; offset += pageSize) {
    const page = await fetchPage(offset);
    await deliver(page);
    const totalPages = page.metadata?.total_pages;
    const lastByMetadata = totalPages !== undefined && offset / pageSize >= totalPages - 1;
    if (page.data.length < pageSize || lastByMetadata) return;
  }
}
