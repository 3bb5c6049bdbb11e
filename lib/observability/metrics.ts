/**
 * The product's CloudWatch metrics, emitted by the functions in embedded metric format (EMF) and read by the alarms
 * and the dashboard in `infra/constructs/monitoring.ts`. They are the domain's observability vocabulary, so they live in
 * `lib/` and the CDK app imports them from here (production code never imports `infra/`). This file imports nothing, so
 * function code can import the same names (e.g. with Powertools: `new Metrics({ namespace: importMetrics.namespace, serviceName:
 * importMetrics.service })`, then `metrics.addMetric(metricNames.runsCompleted, MetricUnit.Count, 1)`).
 *
 * Every metric carries exactly one dimension, `service` = `personio-import`, whichever function emits it (a run can be
 * finalized by the fetch or by the worker): alarms need one metric per name, and per-tenant dimensions would multiply
 * the cost. The functions also get POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME with these values.
 */
export const importMetrics = {
  namespace: 'Dado/PersonioImport',
  dimension: 'service',
  service: 'personio-import',
} as const;

export const metricNames = {
  /** A run finished (users deactivated as needed). Count, 1 per run. */
  runsCompleted: 'RunsCompleted',
  /** A run failed (Personio unreachable, credentials revoked, …). Count, 1 per run. */
  runsFailed: 'RunsFailed',
  /** A run was held for approval by the deactivation guard. Count, 1 per run. */
  runsHeld: 'RunsHeld',
  /** Employees the worker processed (created, updated or unchanged). Count. */
  employeesImported: 'EmployeesImported',
  /** Personio answered 429 (rate limited). Count, per response. */
  personio429: 'Personio429',
  /** Users created by the worker. Count. */
  usersCreated: 'UsersCreated',
  /** Users updated by the worker. Count. */
  usersUpdated: 'UsersUpdated',
  /** Runs the sweeper failed because their lease expired (run_stalled). Count, per sweep. */
  runsStalled: 'RunsStalled',
  /** Tenants the sweeper could not settle (an error; the next sweep tries again). Count, per sweep. */
  sweepTenantsFailed: 'SweepTenantsFailed',
} as const;

export type MetricName = (typeof metricNames)[keyof typeof metricNames];
