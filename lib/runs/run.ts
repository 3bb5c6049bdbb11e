import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Mapping } from '../mapping/mapping.js';
import { truncate } from '../util/text.js';

/**
 * fetching → processing → finalizing → completed | held; held → approving → completed;
 * failed from fetching or processing.
 */
export type RunStatus = 'fetching' | 'processing' | 'finalizing' | 'completed' | 'held' | 'approving' | 'failed';

/** The statuses a run ends in (a held run may still be approved, but nothing happens to it on its own). */
const finalRunStatuses: ReadonlySet<string> = new Set<RunStatus>(['completed', 'held', 'failed']);
export const isFinalRunStatus = (status: unknown): boolean => typeof status === 'string' && finalRunStatuses.has(status);
export type RunMode = 'full';

export interface Finding {
  code: string;
  message: string;
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
  startedAt: string;
  fetchFinishedAt?: string;
  finishedAt?: string;
  messagesSent?: number;
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
