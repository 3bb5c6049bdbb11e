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

/**
 * Pages through every employee: page 0 tells the total, the other pages run concurrently, and each
 * page is handed on as soon as it arrives (one at a time, so the consumer needs no locking). Offset
 * paging over a list that changes mid-run can shift an employee across a page boundary unseen, so
 * when the total moves, a second pass re-reads the list and hands on only employees not seen yet.
 */
export async function pageEmployees(
  source: EmployeePageSource,
  options: PageEmployeesOptions,
  onPage: Deliver,
): Promise<PagingSummary> {
  // The client never asks for more than Personio serves, so the offsets must step by what a page really holds.
  const pageSize = Math.min(Math.max(1, Math.trunc(options.pageSize ?? MAX_PAGE_SIZE)), MAX_PAGE_SIZE);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const seen = new Set<number>();
  const summary: PagingSummary = { pages: 0, employees: 0, duplicatesDropped: 0, totalMoved: false, verificationPages: 0 };

  let delivering: Promise<void> = Promise.resolve();
  const deliver = (page: EmployeesPage): Promise<void> => {
    const fresh: PersonioEmployee[] = [];
    for (const raw of page.data) {
      const employee = compactEmployee(raw);
      const id = employeeId(employee);
      if (id !== undefined) {
        if (seen.has(id)) {
          summary.duplicatesDropped++;
          continue;
        }
        seen.add(id);
      }
      fresh.push(employee);
    }
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
  const initialTotal = first.metadata?.total_elements;
  await deliver(first);
  if (first.data.length === 0) return summary;

  const plannedPages = first.metadata?.total_pages ?? (initialTotal !== undefined ? Math.ceil(initialTotal / pageSize) : undefined);
  let lastTotalPages = plannedPages;

  if (plannedPages === undefined) {
    // No metadata: walk until an empty or short page.
    await sequentialFrom(pageSize, fetchPage, deliver, pageSize);
    return summary;
  }

  const observe = (page: EmployeesPage): void => {
    const total = page.metadata?.total_elements;
    if (total !== undefined && total !== initialTotal) summary.totalMoved = true;
    if (page.metadata?.total_pages !== undefined) lastTotalPages = page.metadata.total_pages;
  };

  const offsets: number[] = [];
  for (let p = 1; p < plannedPages; p++) offsets.push(p * pageSize);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    try {
      while (!failure && next < offsets.length) {
        const offset = offsets[next++] as number;
        const page = await fetchPage(offset);
        // Another page failed meanwhile: the run is over, so nothing more is handed on.
        if (failure) return;
        observe(page);
        await deliver(page);
      }
    } catch (error) {
      failure ??= { error };
    }
  };
  // Waits for the pages still in flight, so that nothing is fetched or handed on once this has failed.
  await Promise.all(Array.from({ length: Math.min(concurrency, offsets.length) }, worker));
  if (failure) throw failure.error;

  // Employees added mid-run land beyond the planned pages.
  if (lastTotalPages !== undefined && lastTotalPages > plannedPages) {
    summary.totalMoved = true;
    await sequentialFrom(plannedPages * pageSize, fetchPage, deliver, pageSize);
  }

  if (summary.totalMoved) {
    const before = summary.pages;
    await sequentialFrom(0, fetchPage, deliver, pageSize);
    summary.verificationPages = summary.pages - before;
  }
  await delivering;
  return summary;
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
