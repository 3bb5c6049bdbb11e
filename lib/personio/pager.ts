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
export async function pageEmployees(
  source: EmployeePageSource,
  options: PageEmployeesOptions,
  onPage: Deliver,
): Promise<PagingSummary> {
  // The client never asks for more than Personio serves, so the offsets must step by what a page really holds.
  const pageSize = Math.min(Math.max(1, Math.trunc(options.pageSize ?? MAX_PAGE_SIZE)), MAX_PAGE_SIZE);
  // One employee of overlap costs one request in 99; a page of one cannot overlap.
  const stride = pageSize > 1 ? pageSize - 1 : 1;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const seen = new Set<number>();
  const summary: PagingSummary = { pages: 0, employees: 0, duplicatesDropped: 0, totalMoved: false, verificationPages: 0 };

  let delivering: Promise<void> = Promise.resolve();
  /** `shared`: the page's first (last) employee is also its neighbour's last (first), so seeing it twice is expected. */
  const deliver = (page: EmployeesPage, shared: { first: boolean; last: boolean } = NOT_SHARED): Promise<void> => {
    const fresh: PersonioEmployee[] = [];
    const lastIndex = page.data.length - 1;
    page.data.forEach((raw, index) => {
      const employee = compactEmployee(raw);
      const id = employeeId(employee);
      const edge = (shared.first && index === 0) || (shared.last && index === lastIndex);
      if (id !== undefined) {
        if (seen.has(id)) {
          if (!edge) summary.duplicatesDropped++;
          return;
        }
        seen.add(id);
      } else if (shared.first && index === 0) {
        // Without an id it cannot be told apart from the neighbour's copy: the neighbour hands it on.
        return;
      }
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
    return page;
  };

  const first = await fetchPage(0);
  const initialTotal = first.metadata?.total_elements ?? (first.metadata?.total_pages !== undefined ? first.metadata.total_pages * pageSize : undefined);
  if (first.data.length === 0) return summary;

  if (initialTotal === undefined) {
    await deliver(first);
    // No metadata: walk until an empty or short page.
    await sequentialFrom(pageSize, fetchPage, deliver, pageSize);
    return summary;
  }

  // Page p (p ≥ 1) reads [p·stride, p·stride + pageSize): the last one reaches the last employee.
  const plannedPages = initialTotal <= pageSize ? 1 : 1 + Math.ceil((initialTotal - pageSize) / stride);
  const overlapping = stride < pageSize;
  await deliver(first, { first: false, last: overlapping && plannedPages > 1 });
  const edges: ({ first: number | undefined; last: number | undefined; length: number } | undefined)[] = [edgesOf(first)];

  const observe = (index: number, page: EmployeesPage): void => {
    const total = page.metadata?.total_elements;
    if (total !== undefined && total !== first.metadata?.total_elements) summary.totalMoved = true;
    edges[index] = edgesOf(page);
  };

  let next = 1;
  // A page that comes back short ends the planned pages early: a total that overstates the list (a glitch, or a
  // list that shrank) must not send the run paging through empty offsets until its time runs out.
  let end = plannedPages;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    try {
      while (!failure && next < end) {
        const index = next++;
        const page = await fetchPage(index * stride);
        // Another page failed meanwhile: the run is over, so nothing more is handed on.
        if (failure) return;
        if (page.data.length < pageSize && index < plannedPages - 1) {
          end = Math.min(end, index + 1);
          summary.totalMoved = true;
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

  if (!summary.totalMoved && !edgesAgree(edges, pageSize, stride)) summary.totalMoved = true;

  if (summary.totalMoved) {
    // Re-reads the whole list (joiners land beyond the planned pages, leavers shift the rest).
    const before = summary.pages;
    await sequentialFrom(0, fetchPage, deliver, pageSize);
    summary.verificationPages = summary.pages - before;
  }
  await delivering;
  return summary;
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
    if (p > 0 && stride < pageSize && page.first !== edges[p - 1]?.last) return false;
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
