/**
 * The product's CloudWatch metrics, emitted by the functions in embedded metric format (EMF) and read by the alarms
 * and the dashboard in `infra/constructs/monitoring.ts`. They are the domain's observability vocabulary, so they live in
 * `lib/` and the CDK app imports them from here (production code never imports `infra/`). This file imports nothing, so
 * function code can import the same names (see `functions/shared/metrics.ts`).
 *
 * Dimensions: every metric carries `service` = `personio-import` and `stage` = the deployment's stage (DADO_STAGE),
 * whichever function emits it (a run can be finalized by the fetch, the worker or the sweeper): two stages in one
 * account never add up in one metric, and an alarm reads exactly one metric per name and stage. `RunsFailedByReason`
 * and `FetchesPaused` add `reason`, one of a handful of stable values. No dimension names a tenant: per-tenant metrics would multiply the
 * cost by the fleet, and the run records say which tenant failed.
 */
export const importMetrics = {
  namespace: 'Dado/PersonioImport',
  dimension: 'service',
  service: 'personio-import',
  stageDimension: 'stage',
  reasonDimension: 'reason',
} as const;

export const metricNames = {
  /** A run finished (users deactivated as needed). Count, 1 per run. */
  runsCompleted: 'RunsCompleted',
  /** A run failed, whatever the reason: the total the failure alarms divide. Count, 1 per run. */
  runsFailed: 'RunsFailed',
  /** The same failed runs, with a `reason` dimension (`failureReasons`). Count, 1 per run. */
  runsFailedByReason: 'RunsFailedByReason',
  /** A run was held for approval by the deactivation guard. Count, 1 per run. */
  runsHeld: 'RunsHeld',
  /** Employees the worker processed (created, updated or unchanged). Count. */
  employeesImported: 'EmployeesImported',
  /** Requests a fetch made to Personio (auth and pages, retries included). Count, per fetch. */
  personioRequests: 'PersonioRequests',
  /** Personio answered 429 (rate limited). Count, per fetch; divided by `PersonioRequests` for the rate. */
  personio429: 'Personio429',
  /** Users created by the worker. Count. */
  usersCreated: 'UsersCreated',
  /** Users updated by the worker. Count. */
  usersUpdated: 'UsersUpdated',
  /** Import messages the worker handled (each SQS record, duplicates and failures included). Count, per batch. */
  importMessages: 'ImportMessages',
  /**
   * Import messages the worker reported as failed (batch item failures: retried by SQS, then dead-lettered). Lambda's
   * Errors never counts them, because the invocation itself succeeds. Count, per batch.
   */
  importMessagesFailed: 'ImportMessagesFailed',
  /** Runs the sweeper failed because their lease expired (run_stalled). Count, per sweep. */
  runsStalled: 'RunsStalled',
  /** Tenants the sweeper could not settle (an error; the next sweep tries again). Count, per sweep. */
  sweepTenantsFailed: 'SweepTenantsFailed',
  /**
   * Fetches that started nothing because imports were paused, with a `reason` dimension: `imports_paused` (an operator
   * paused the stage) or `invalid_credentials` (the tenant is paused after repeated refusals). Count, per fetch.
   */
  fetchesPaused: 'FetchesPaused',
  /**
   * Changes made through the API whose audit entry could not be stored after retries (connect logs the whole entry:
   * "audit entry not stored"). The change itself succeeded. Count, per change.
   */
  auditEntriesNotStored: 'AuditEntriesNotStored',
  /** Personio webhook deliveries the receiver queued as a change. Count, per delivery. */
  webhooksAccepted: 'WebhooksAccepted',
  /** Deliveries of a change already queued (Personio's retries, duplicates): acknowledged, nothing queued. Count. */
  webhooksDuplicate: 'WebhooksDuplicate',
  /** Authenticated deliveries acknowledged without acting: an event we do not handle, or no usable person id. Count. */
  webhooksIgnored: 'WebhooksIgnored',
  /** Deliveries refused, with a `reason` dimension (`webhookRefusalReasons`). Count, per delivery. */
  webhooksRefused: 'WebhooksRefused',
  /** Change events (user and run changes from the tables' streams) EventBridge accepted. Count, per stream batch. */
  changeEventsPublished: 'ChangeEventsPublished',
  /**
   * Change events still refused after the publisher's re-sends: their stream records are reported as batch item
   * failures (Lambda retries them, then sends them to the publisher's on-failure queue). Count, per stream batch.
   */
  changeEventsFailed: 'ChangeEventsFailed',
  /**
   * Delta runs the refresh opened (one per tenant per changes batch). Their outcomes count in the DeltaRuns* metrics
   * below, never in RunsCompleted/RunsFailed/RunsHeld: those stay full reconciliations only, so the heartbeat is not
   * kept green by webhooks alone and hundreds of small delta runs do not dilute the share of full runs failing. Count.
   */
  deltaRuns: 'DeltaRuns',
  /** A delta run finished (as completed). Count, 1 per run. */
  deltaRunsCompleted: 'DeltaRunsCompleted',
  /** A delta run failed, whatever the reason (the refresh logs it). Count, 1 per run. */
  deltaRunsFailed: 'DeltaRunsFailed',
  /** A delta run's deletions were held for approval by the webhook-deletion guard. Count, 1 per run. */
  deltaRunsHeld: 'DeltaRunsHeld',
  /** Employees a delta run re-read from Personio (distinct per run). Count, per batch. */
  changesRefreshed: 'ChangesRefreshed',
  /**
   * Changes acknowledged without a delta run, with a `reason` dimension: `imports_paused`, `not_connected`,
   * `tenant_paused` (the next full reconciliation catches up) or `malformed` (left to the changes DLQ). Count.
   */
  changesSkipped: 'ChangesSkipped',
  /**
   * Changes given back without a delta run because the tenant's Personio budget stayed taken (a full fetch holds it):
   * delivered again within about 30 s. Count, per change message.
   */
  changesDeferred: 'ChangesDeferred',
} as const;

export type MetricName = (typeof metricNames)[keyof typeof metricNames];

/**
 * Why runs fail, as the `reason` of `RunsFailedByReason`. Few and stable: an alarm or a dashboard line per value, and a
 * new value is a new metric nobody alarms on yet.
 * - `invalid_credentials`: Personio refused the tenant's credential (401). Many at once is Personio's incident, not
 *   5,000 customers revoking their keys.
 * - `personio_forbidden`: the credential lacks access (403); the customer fixes it in Personio.
 * - `personio_unavailable`, `personio_rate_limited`, `personio_timeout`: Personio was down, kept answering 429, or the
 *   fetch ran out of time; the next run retries.
 * - `personio_bad_response`: Personio answered something the client cannot read (or 404).
 * - `credentials_missing`: the tenant's secret is gone or unreadable.
 * - `stalled`: the run's lease expired (a killed fetch, a message in the dead-letter queue).
 * - `internal`: anything else (our error, Secrets Manager unavailable, a failure code this list does not know).
 */
export const failureReasons = [
  'invalid_credentials',
  'personio_forbidden',
  'personio_unavailable',
  'personio_rate_limited',
  'personio_timeout',
  'personio_bad_response',
  'credentials_missing',
  'stalled',
  'internal',
] as const;

export type FailureReason = (typeof failureReasons)[number];

/** Why a fetch started nothing (`FetchesPaused`): the operator's switch for the stage, or the tenant's own pause. */
export const pauseReasons = ['imports_paused', 'invalid_credentials'] as const;
export type PauseReason = (typeof pauseReasons)[number];

/**
 * Why the webhook receiver refused a delivery (`WebhooksRefused`): no valid token (whatever the cause: one answer for
 * all), a body it cannot read, a body over 64 KiB, or another Personio company's delivery.
 */
export const webhookRefusalReasons = ['unauthorized', 'malformed', 'too_large', 'company_mismatch'] as const;
export type WebhookRefusalReason = (typeof webhookRefusalReasons)[number];

/**
 * Why the refresh acknowledged changes without a delta run (`ChangesSkipped`): the stage's imports are paused, the
 * tenant is not connected or is paused (the next full reconciliation catches up), or the message is malformed.
 */
export const changeSkipReasons = ['imports_paused', 'not_connected', 'tenant_paused', 'malformed'] as const;
export type ChangeSkipReason = (typeof changeSkipReasons)[number];

/** The failure codes a run record can hold (its `failure.code`), by the reason they count as. */
const reasonOfFailureCode: Readonly<Record<string, FailureReason>> = {
  personio_invalid_credentials: 'invalid_credentials',
  personio_forbidden: 'personio_forbidden',
  personio_unavailable: 'personio_unavailable',
  personio_rate_limited: 'personio_rate_limited',
  personio_timeout: 'personio_timeout',
  personio_bad_response: 'personio_bad_response',
  personio_not_found: 'personio_bad_response',
  // Personio's list kept moving under three passes: its data, not ours.
  personio_list_unstable: 'personio_bad_response',
  credentials_missing: 'credentials_missing',
  credentials_unreadable: 'credentials_missing',
  run_stalled: 'stalled',
};

/** The reason a failed run counts as, from the code of its failure finding; unknown codes are `internal`. */
export function failureReasonOf(failureCode: string | undefined): FailureReason {
  return (failureCode !== undefined && Object.hasOwn(reasonOfFailureCode, failureCode) ? reasonOfFailureCode[failureCode] : undefined) ?? 'internal';
}
