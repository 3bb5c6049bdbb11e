import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ScheduleInterval } from '../schedules/schedules.js';
import { sendConditional } from '../storage/conditional.js';
import type { Connection, ConnectionWebhooks } from '../tenants/connections.js';

/** The tenant's schedule as connect last set it (EventBridge Scheduler holds the schedule itself). */
export interface ScheduleSettings {
  enabled: boolean;
  every: ScheduleInterval | 'custom';
  expression: string;
  flexibleWindowMinutes: number;
  updatedAt: string;
  /**
   * An admin set the interval (PUT …/schedule with `every`): it stays whatever the webhooks do. False: the deployment's
   * default, which follows the webhooks (daily reconciliation while active, hourly without). Absent on schedules saved
   * before the rule: ./schedule.ts infers it.
   */
  chosenByAdmin?: boolean;
}

/** What connect keeps on the connection item besides what ConnectionStore owns. */
export interface ConnectSettings {
  schedule?: ScheduleSettings;
  /** The App ID the admin gave, recorded only: Personio calls send the deployment's App ID (README, Connect API). */
  appId?: string | null;
  disconnectedAt?: string;
}

export type ConnectionRecord = Connection & ConnectSettings;

/**
 * Writes connect's own attributes on the connection item (the item ConnectionStore reads and saves; these
 * attributes are disjoint from the ones its `save` sets, so neither overwrites the other).
 */
export class ConnectSettingsStore {
  constructor(
    private readonly db: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  /** After a (re)connect: the schedule and App ID, and the connection is no longer disconnected. */
  async connected(tenantId: string, settings: { schedule: ScheduleSettings; appId: string | null }): Promise<void> {
    await this.update(tenantId, 'SET schedule = :schedule, appId = :appId REMOVE disconnectedAt', { ':schedule': settings.schedule, ':appId': settings.appId });
  }

  async saveSchedule(tenantId: string, schedule: ScheduleSettings): Promise<void> {
    await this.update(tenantId, 'SET schedule = :schedule', { ':schedule': schedule });
  }

  /** Status disconnected, no schedule, the webhook state as disconnect left it; mapping, runs and users stay. */
  async disconnected(tenantId: string, now: Date, webhooks?: ConnectionWebhooks): Promise<void> {
    await this.update(
      tenantId,
      `SET #status = :status, disconnectedAt = :now, updatedAt = :now${webhooks ? ', webhooks = :webhooks' : ''} REMOVE schedule`,
      { ':status': 'disconnected', ':now': now.toISOString(), ...(webhooks ? { ':webhooks': webhooks } : {}) },
      { '#status': 'status' },
    );
  }

  private async update(tenantId: string, expression: string, values: Record<string, unknown>, names?: Record<string, string>): Promise<void> {
    // Refused when the connection was never saved: there is nothing to annotate.
    await sendConditional(
      this.db,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { tenantId },
        UpdateExpression: expression,
        ConditionExpression: 'attribute_exists(tenantId)',
        ExpressionAttributeValues: values,
        ...(names ? { ExpressionAttributeNames: names } : {}),
      }),
    );
  }
}
