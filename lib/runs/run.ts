import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { Mapping } from '../mapping/mapping.js';
import { truncate } from '../util/text.js';

/**
 * fetching → processing → finalizing → completed | held; held → approving → completed;
 * failed from fetching or processing (also when their lease expires: `run_stalled`).
 */
export type RunStatus = 'fetching' | 'processing' | 'finalizing' | 'completed' | 'held' | 'approving' | 'failed';

/** The statuses a run ends in (a held run may still be approved, but nothing happens to it on its own). */
const finalRunStatuses: ReadonlySet<string> = new Set<RunStatus>(['completed', 'held', 'failed']);
export const isFinalRunStatus = (status: unknown): boolean => typeof status === 'string' && finalRunStatuses.has(status);
/**
 * The states that hold the tenant: one run at a time from its fetch until it is final (a held run does not block, but
 * its approval does: no run starts while users are being deactivated on an older picture).
 */
export const blocksTenant = (status: RunStatus): boolean =>
  status === 'fetching' || status === 'processing' || status === 'finalizing' || status === 'approving';
/**
 * `full`: the whole list, paged (schedule, "import now"); judges who left by absence. `delta`: the employees Personio's
 * webhooks named, re-read one by one (lib/refresh/refresh-tenant.ts); never deactivates by absence, only those Personio
 * answers 404 for, and never holds or waits for the tenant's lock.
 */
export type RunMode = 'full' | 'delta';

export interface Finding {
  code: string;
  message: string;
}

/** An employee the run could not import, and why (a stable code; never the value). */
export interface EmployeeFailure {
  personioId: number | null;
  reason: string;
  /** The Personio attribute concerned, when one value was the problem. */
  attribute?: string;
  /** For email_taken: the Personio employee whose user holds the address. */
  otherPersonioId?: number;
}

/** Counters the worker adds per message. */
export interface MessageCounts {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  dynamoWriteRequests: number;
}

export interface Run extends MessageCounts {
  tenantId: string;
  runId: string;
  mode: RunMode;
  trigger: string;
  status: RunStatus;
  /** The tenant's mapping when the run started: the fetch's projection and the worker's mapping agree. */
  mapping: Mapping;
  /** Also the run's `fetchedAt`: the version its data carries; data and decisions of older runs never reverse it. */
  startedAt: string;
  /** Epoch ms by which a run that is not final must have moved on (lib/runs/lease.ts). */
  leaseExpiresAt?: number;
  fetchFinishedAt?: string;
  /** Personio's own count of the list (total_elements) as the fetch last saw it. */
  personioTotal?: number;
  /** Employees the fetch could not hand on (too large for a message): seen, so never deactivated, and reported. */
  rejected?: EmployeeFailure[];
  /** All of them; more than `rejected` holds means some ids are unknown, so the run cannot tell who left. */
  rejectedCount?: number;
  /** Delta runs: the Personio ids Personio answered 404 for (deleted there); the only users a delta run may deactivate. */
  gone?: number[];
  /** Users a held run would deactivate (the list itself is stored beside the run). */
  pendingDeactivations?: number;
  finishedAt?: string;
  messagesSent?: number;
  /** Summed from the messages' markers: stored once the run is completed or held, counted live before. */
  messagesProcessed: number;
  employeesFetched: number;
  deactivated: number;
  personioRequests: number;
  personio429: number;
  findings: Finding[];
  failure?: Finding;
}

/** The run report (DESIGN §4). */
export interface RunReport {
  runId: string;
  tenantId: string;
  /** Added to DESIGN's contract (which allows keys): a delta run is a webhook's targeted refresh. */
  mode: RunMode;
  trigger: string;
  status: RunStatus;
  employeesFetched: number;
  created: number;
  updated: number;
  unchanged: number;
  deactivated: number;
  failed: number;
  findings: Finding[];
  personioRequests: number;
  personio429: number;
  dynamoWriteRequests: number;
  durationMs: number;
  startedAt: string;
  finishedAt: string | null;
}

/** Sortable by start time, so the newest runs of a tenant come first in a reverse query. */
export function newRunId(now: Date): string {
  // Milliseconds included: two runs of a tenant in the same second must still sort in start order.
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/**
 * The shape of `newRunId`: a UTC stamp (milliseconds since they were added; older runs have none) and
 * 8 hex digits, e.g. 20250301T120000.123Z-1a2b3c4d.
 */
export const runIdSchema = z.string().regex(/^\d{8}T\d{6}(?:\.\d{3})?Z-[0-9a-f]{8}$/, 'a run id such as 20250301T120000.123Z-1a2b3c4d');

export function toReport(run: Run, now: Date = new Date()): RunReport {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now.getTime();
  const findings = run.failure ? [run.failure, ...run.findings] : run.findings;
  return {
    runId: run.runId,
    tenantId: run.tenantId,
    // Runs stored before modes existed were all full runs.
    mode: run.mode ?? 'full',
    trigger: run.trigger,
    status: run.status,
    employeesFetched: run.employeesFetched,
    created: run.created,
    updated: run.updated,
    unchanged: run.unchanged,
    deactivated: run.deactivated,
    failed: run.failed,
    findings,
    personioRequests: run.personioRequests,
    personio429: run.personio429,
    dynamoWriteRequests: run.dynamoWriteRequests,
    durationMs: Math.max(0, end - Date.parse(run.startedAt)),
    startedAt: run.startedAt,
    finishedAt: run.finishedAt ?? null,
  };
}

/** A finding's message is readable prose, not a payload: a runaway one must never make the run record unwritable (400 KB items). */
const MAX_FINDING_MESSAGE = 2_000;

export function boundedFinding(finding: Finding): Finding {
  return finding.message.length <= MAX_FINDING_MESSAGE ? finding : { ...finding, message: truncate(finding.message, MAX_FINDING_MESSAGE) };
}
