import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.js';
import type { Severity } from './alarms.js';

/** Where one severity's alarms go (a stage's `paging` / `tickets` in cdk.json). */
export interface AlarmDestination {
  /** An existing topic (on-call tooling's, another stack's): imported, not managed by this stack. */
  topicArn?: string | undefined;
  /** Subscribed to the topic (the imported one, or the one this stack creates). */
  email?: string | undefined;
}

const displayNames: Record<Severity, string> = {
  paging: 'Dado Personio import: paging alarms',
  tickets: 'Dado Personio import: ticket alarms',
};

/**
 * The two alarm topics: paging (on-call, now) and tickets (working hours). Each is the stage's existing topic when it
 * names one, or a topic of this stack otherwise; an e-mail address in the destination is subscribed (SNS asks the
 * address to confirm first). A stage with neither gets an empty topic: subscribe to it later (outputs
 * PagingTopicArn, TicketsTopicArn).
 */
export class AlarmTopics extends Construct {
  readonly paging: ITopic;
  readonly tickets: ITopic;

  constructor(scope: Construct, id: string, props: Record<Severity, AlarmDestination>) {
    super(scope, id);
    this.paging = this.topic('paging', 'Paging', props.paging);
    this.tickets = this.topic('tickets', 'Tickets', props.tickets);
  }

  get all(): Record<Severity, ITopic> {
    return { paging: this.paging, tickets: this.tickets };
  }

  private topic(severity: Severity, id: string, destination: AlarmDestination): ITopic {
    // Not encrypted: notifications carry alarm names and metric values, no customer data, and CloudWatch cannot publish
    // to a topic under the AWS-managed SNS key. Publishing requires TLS. An imported topic's policy (and key, if it
    // has one) must let CloudWatch publish: that is its owner's to set.
    const topic = destination.topicArn ? Topic.fromTopicArn(this, id, destination.topicArn) : this.ownTopic(id, severity);
    if (destination.email) {
      const subscription = new EmailSubscription(destination.email);
      topic.addSubscription(subscription);
      acknowledge(
        this.node.findChild(id).node.tryFindChild(destination.email) ?? this,
        'Serverless-SNSRedrivePolicy',
        'An e-mail to a person is a convenience beside the alarm itself: an alarm that could not be delivered stays in ALARM in CloudWatch and on the dashboard, and a dead-letter queue of undelivered alarm e-mails would be one more queue nobody reads.',
      );
    }
    return topic;
  }

  /**
   * A topic of this stack. `enforceSSL` gives it a topic policy, and a topic policy replaces SNS's default one, which
   * was what let CloudWatch publish: without the statement below every alarm would fail to notify (CloudWatch's
   * alarm history says "no resource-based policy allows the SNS:Publish action"). Only this account's alarms may.
   */
  private ownTopic(id: string, severity: Severity): Topic {
    const topic = new Topic(this, id, { displayName: displayNames[severity], enforceSSL: true });
    const stack = Stack.of(this);
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          },
        },
      }),
    );
    return topic;
  }
}
