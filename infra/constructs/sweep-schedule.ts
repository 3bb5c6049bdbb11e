import { Duration } from 'aws-cdk-lib';
import { Metric, type MetricOptions, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Function as LambdaFunctionConstruct } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { SWEEP_PERIOD_MS } from '../../lib/runs/lease.js';
import { acknowledge } from '../nag.js';

/** The sweep period, from the constant the leases are written against, so the two cannot drift apart. */
export const sweepPeriod = Duration.millis(SWEEP_PERIOD_MS);

/** Times EventBridge retries delivering one firing to Lambda (the Invoke call failed), within `sweepPeriod`. */
export const SWEEP_DELIVERY_RETRIES = 2;

interface SweepScheduleProps {
  /** functions/sweeper.ts: settles every tenant's stalled run; its event carries nothing. */
  sweeper: LambdaFunctionConstruct;
}

/**
 * Runs the sweeper every `sweepPeriod` (an EventBridge rule; the sweep is the same for every tenant, so it does not
 * belong in the tenants' schedule group, which connect manages). Every firing is a full sweep, so nothing about one
 * firing is worth keeping beyond the next: an undelivered or failed firing is replaced by the next one, and every
 * retry and event age here ends within one period.
 * - EventBridge → Lambda: delivery retried up to twice, for at most one period.
 * - Lambda (asynchronous invoke): a sweep that failed is not retried (the next firing does the same work, sooner
 *   than a retry's back-off would matter); a firing throttled because the previous sweep still runs (reserved
 *   concurrency 1) waits at most one period, then is dropped in favour of the next.
 * Failures are seen through alarms (the sweeper's errors and throttles, and this rule's failed invocations), not
 * through dead letters, which would hold copies of `{}`.
 */
export class SweepSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: SweepScheduleProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description: 'Runs the Personio run sweeper: settles runs whose lease expired',
      // Whole minutes only: Schedule.rate fails the synth if SWEEP_PERIOD_MS ever is not.
      schedule: Schedule.rate(sweepPeriod),
    });
    this.rule.addTarget(
      new LambdaFunction(props.sweeper, {
        // What `aws lambda invoke --payload '{}'` sends too: a sweep by hand is the same event.
        event: RuleTargetInput.fromObject({}),
        retryAttempts: SWEEP_DELIVERY_RETRIES,
        maxEventAge: sweepPeriod,
      }),
    );
    acknowledge(
      this.rule,
      'Serverless-EventBusDLQ',
      "The rule's only event is a constant {}: a dead-letter queue would keep copies of nothing, and the next firing one sweep period later replaces an undelivered one. Delivery failures are alarmed (FailedInvocations).",
    );

    props.sweeper.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: sweepPeriod });
    acknowledge(
      props.sweeper.node.findChild('EventInvokeConfig'),
      'Serverless-LambdaAsyncFailureDestination',
      "A failed sweep is not kept: its event is a constant {}, the next firing one sweep period later does the same work, and the sweeper's errors and throttles are alarmed.",
    );
  }

  /** Firings EventBridge could not deliver to the sweeper after its retries (permission removed, function gone). */
  metricFailedInvocations(options: MetricOptions = {}): Metric {
    return new Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { RuleName: this.rule.ruleName },
      statistic: Stats.SUM,
      ...options,
    });
  }
}
