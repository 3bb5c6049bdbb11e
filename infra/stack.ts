import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { envNames } from '../lib/config.js';
import type { DeploymentConfig } from './config.js';
import { ConnectApi } from './constructs/api.js';
import { ChangeEvents } from './constructs/change-events.js';
import { ChangesQueue } from './constructs/changes-queue.js';
import { WebhookApi } from './constructs/webhook-api.js';
import { ImportFunctions } from './constructs/functions.js';
import { ImportQueue } from './constructs/import-queue.js';
import { Keys } from './constructs/keys.js';
import { Monitoring } from './constructs/monitoring.js';
import { TenantSchedules } from './constructs/schedules.js';
import { SweepSchedule } from './constructs/sweep-schedule.js';
import { TenantSecrets } from './constructs/secrets.js';
import { Tables } from './constructs/tables.js';
import { acknowledge } from './nag.js';
import { bindChangesSender, bindWebhookTables } from './grants.js';
import { bindInvoke, bindQueueSender, bindQueueVisibility, bindScheduleManagement, bindScheduleRepair, bindSecrets, bindTable, setting } from './grants.js';

export interface PersonioImportStackProps extends StackProps {
  readonly config: DeploymentConfig;
}

/**
 * The whole product: connect (HTTP API) → secrets, connections, schedules; schedule → fetch → import queue → worker →
 * users and runs; every few minutes, the sweeper settles runs that stalled. The constructs own their resources; this
 * stack wires the permissions, each one through a binder that sets the matching environment variable (see each
 * function's `loadConfig([...])` for the names it reads).
 */
export class PersonioImportStack extends Stack {
  readonly keys: Keys;
  readonly tables: Tables;
  readonly functions: ImportFunctions;
  readonly importQueue: ImportQueue;
  readonly secrets: TenantSecrets;
  readonly schedules: TenantSchedules;
  readonly sweepSchedule: SweepSchedule;
  /** The event bus of user and run changes, its archive, and the publisher's stream event sources. */
  readonly changeEvents: ChangeEvents;
  readonly api: ConnectApi;
  /** The public route of Personio's deliveries (the only route without IAM auth). */
  readonly webhookApi: WebhookApi;
  /** Changes the webhook receiver queued, for the refresh (attach it: `changesQueue.attachConsumer`). */
  readonly changesQueue: ChangesQueue;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: PersonioImportStackProps) {
    // Always the stage's account and region, also when a test builds the stack alone: a table's customer-managed key
    // is named per region (TableV2 renders it per replica), which a region-agnostic stack cannot do.
    super(scope, id, { ...props, env: props.env ?? props.config.env });
    const { config } = props;
    const logRetention = config.logRetentionDays;

    // Customer-managed keys per kind of data; the tables, the queues and the secrets fence who may use them (H2).
    const keys = new Keys(this, 'Keys', { stage: config.stage });
    this.keys = keys;
    const tables = new Tables(this, 'Tables', { key: keys.data, readerRoles: config.readerRoles, breakGlassRoles: config.breakGlassRoles });
    this.tables = tables;
    const functions = new ImportFunctions(this, 'Functions', { logRetention, reservedConcurrency: config.reservedConcurrency });
    this.functions = functions;
    const { connect, fetch, worker, sweeper } = functions;
    const importQueue = new ImportQueue(this, 'ImportQueue', { worker, key: keys.queue, redriveRoles: config.redriveRoles });
    this.importQueue = importQueue;
    const secrets = new TenantSecrets(this, 'Secrets', { prefix: config.secretPrefix, key: keys.secrets, stage: config.stage });
    this.secrets = secrets;
    const schedules = new TenantSchedules(this, 'Schedules', {
      groupName: this.stackName,
      target: fetch,
      expression: config.scheduleDefault,
      flexibleWindowMinutes: config.scheduleFlexibleWindowMinutes,
    });
    this.schedules = schedules;
    const api = new ConnectApi(this, 'ConnectApi', { handler: connect, logRetention });
    this.api = api;

    // Webhooks in: Personio → the public route → webhook receiver → changes queue. The receiver reads the tenant's
    // connection and may record its Personio company there (UpdateItem on `webhooks` only), claims and releases its
    // dedupe items in the runs table, and sends to the changes queue; nothing else. The queue's consumer (the refresh)
    // attaches with `changesQueue.attachConsumer` and adds its own event source; connect registers
    // `webhookApi.baseUrl` + tenant id (WEBHOOK_BASE_URL).
    const { webhook } = functions;
    const webhookApi = new WebhookApi(this, 'WebhookApi', { handler: webhook, logRetention });
    this.webhookApi = webhookApi;
    const changesQueue = new ChangesQueue(this, 'ChangesQueue', { key: keys.queue, redriveRoles: config.redriveRoles });
    this.changesQueue = changesQueue;
    bindWebhookTables(webhook, tables.connections, tables.runs);
    bindChangesSender(webhook, changesQueue);
    // Connect registers `<this><tenantId>` with Personio for each tenant whose credential may manage webhooks.
    setting(connect, envNames.webhookBaseUrl, webhookApi.baseUrl);
    new CfnOutput(this, 'WebhookUrl', {
      value: webhookApi.baseUrl,
      description: "Personio webhook base URL (public; a tenant's deliveries go to <this><tenantId>, authenticated by its token)",
    });
    const sweepSchedule = new SweepSchedule(this, 'SweepSchedule', { sweeper });
    this.sweepSchedule = sweepSchedule;

    // Change events out: the users and runs tables' streams → publisher → the product's bus (and its archive). The
    // publisher reads the two streams and puts events on this bus; nothing else (no table items, no other bus).
    const changeEvents = new ChangeEvents(this, 'ChangeEvents', { publisher: functions.publisher, users: tables.users, runs: tables.runs });
    this.changeEvents = changeEvents;
    new CfnOutput(this, 'EventBusName', {
      value: changeEvents.bus.eventBusName,
      description: 'User and run change events (source dado.personio-import): attach consumers’ rules to this bus',
    });

    // connect: connections (read/write: "import now" claims the tenant for a run), runs (read/write: "import now" settles
    // a stalled run, approving a held run claims and finishes it), users (read/write: finishing a stalled finalization
    // is the worker's own completion, which may create the user of an employee whose address passed to it; approval
    // deactivates; the mapping preview reads users and the holders of an address), secrets (manage), schedules,
    // "import now".
    bindTable(connect, tables.connections, 'readWrite', envNames.connectionsTable);
    bindTable(connect, tables.runs, 'readWrite', envNames.runsTable);
    bindTable(connect, tables.users, 'readWrite', envNames.usersTable);
    // The audit trail of changes made through the API (who did what), and its listing.
    bindTable(connect, tables.audit, 'readWrite', envNames.auditTable);
    bindSecrets(connect, secrets, 'manage');
    bindScheduleManagement(connect, schedules);
    bindInvoke(connect, fetch, envNames.fetchFunctionName);
    setting(connect, envNames.personioBaseUrl, config.personioBaseUrl);
    setting(connect, envNames.personioAppId, config.personioAppId);
    // Approving a held run applies the same guard as the worker.
    setting(connect, envNames.deactivationThreshold, config.deactivationThreshold);
    // Only Dado's backend may call (403 forbidden for any other role with execute-api:Invoke).
    setting(connect, envNames.allowedCallers, config.allowedCallers.join(','));
    // A tenant whose webhooks are active reconciles on this schedule unless an admin chose one.
    setting(connect, envNames.reconcileScheduleExpression, config.reconcileScheduleDefault);

    // fetch: the tenant lock (connections), runs (the run, its firing and progress items), users (finalization),
    // secrets (read), the import queue.
    bindTable(fetch, tables.connections, 'readWrite', envNames.connectionsTable);
    bindTable(fetch, tables.runs, 'readWrite', envNames.runsTable);
    bindTable(fetch, tables.users, 'readWrite', envNames.usersTable);
    bindSecrets(fetch, secrets, 'read');
    bindQueueSender(fetch, importQueue, envNames.importQueueUrl);
    setting(fetch, envNames.personioBaseUrl, config.personioBaseUrl);
    setting(fetch, envNames.personioAppId, config.personioAppId);
    setting(fetch, envNames.deactivationThreshold, config.deactivationThreshold);

    // refresh: the changes queue's consumer (delta runs, lib/refresh). Up to 100 changes collected over 2 s make one
    // batch, one delta run per tenant in it (the coalescing); failed tenants' changes come back (batch item failures).
    // At most 5 at once: one tenant's delta runs share its Personio budget anyway. Like the fetch: connections (read:
    // the tenant and the kill switch; it takes no lock), runs (its runs, the budget lease, the open delta runs), users
    // (finalization), secrets (read), the import queue.
    const { refresh } = functions;
    changesQueue.attachConsumer(refresh);
    refresh.addEventSource(
      new SqsEventSource(changesQueue.queue, { batchSize: 100, maxBatchingWindow: Duration.seconds(2), reportBatchItemFailures: true, maxConcurrency: 5 }),
    );
    acknowledge(
      refresh,
      'Serverless-LambdaEventSourceMappingDestination',
      "SQS event source mappings do not support on-failure destinations; changes that keep failing go to the changes queue's dead-letter queue through its redrive policy.",
    );
    bindTable(refresh, tables.connections, 'read', envNames.connectionsTable);
    bindTable(refresh, tables.runs, 'readWrite', envNames.runsTable);
    bindTable(refresh, tables.users, 'readWrite', envNames.usersTable);
    bindSecrets(refresh, secrets, 'read');
    bindQueueSender(refresh, importQueue, envNames.importQueueUrl);
    // Changes given back while the tenant's Personio budget is busy come back in seconds, not after the visibility timeout.
    bindQueueVisibility(refresh, changesQueue.queue, envNames.changesQueueUrl);
    setting(refresh, envNames.personioBaseUrl, config.personioBaseUrl);
    setting(refresh, envNames.personioAppId, config.personioAppId);
    setting(refresh, envNames.deactivationThreshold, config.deactivationThreshold);

    // worker: users and runs; it never sees Personio, secrets or connections. It consumes the import queue through
    // the event source mapping, and shortens the retry of a message that failed transiently.
    bindTable(worker, tables.users, 'readWrite', envNames.usersTable);
    bindTable(worker, tables.runs, 'readWrite', envNames.runsTable);
    bindQueueVisibility(worker, importQueue.queue, envNames.importQueueUrl);
    setting(worker, envNames.deactivationThreshold, config.deactivationThreshold);

    // sweeper: finds the tenants with a current run and frees them (connections: the only Scan), settles their runs
    // (runs: read/write), finishes stalled finalizations and approvals (users: read/write, like the worker whose
    // completion it finishes). No Personio, secrets or queues.
    bindTable(sweeper, tables.connections, 'sweep', envNames.connectionsTable);
    bindTable(sweeper, tables.runs, 'readWrite', envNames.runsTable);
    bindTable(sweeper, tables.users, 'readWrite', envNames.usersTable);
    // Finishing a stalled finalization applies the same guard as the worker.
    setting(sweeper, envNames.deactivationThreshold, config.deactivationThreshold);
    // Points tenant schedules that name a replaced fetch or scheduler role back at the current ones.
    bindScheduleRepair(sweeper, schedules);

    // Every function: the stage (a dimension of every metric, a tag on every secret), how long final runs are kept
    // (any of them may finish a run), and when repeated credential failures pause a tenant (the fetch records them;
    // the others settle runs that may end that way).
    for (const [name, fn] of Object.entries(functions.all)) {
      setting(fn, envNames.stage, config.stage);
      // The webhook receiver and the publisher settle no run and count no credential failure.
      if (name === 'webhook' || name === 'publisher') continue;
      setting(fn, envNames.runRetentionDays, config.runRetentionDays);
      setting(fn, envNames.pauseAfterCredentialFailures, config.pauseAfterCredentialFailures);
    }

    // Alarms per stage, to the stage's paging and ticket destinations, with its failure ratio and floor.
    const monitoring = new Monitoring(this, 'Monitoring', {
      stage: config.stage,
      paging: config.paging,
      tickets: config.tickets,
      failureRatio: config.failureRatio,
      failureFloor: config.failureFloor,
      tables: tables.all,
      functions: functions.all,
      importQueue: importQueue.queue,
      importDeadLetterQueue: importQueue.deadLetterQueue,
      fetchDeadLetterQueue: functions.fetchDeadLetterQueue,
      changesDeadLetterQueue: changesQueue.deadLetterQueue,
      api,
      webhookApi,
      schedules,
      sweepSchedule,
    });
    this.monitoring = monitoring;
    changeEvents.addAlarms(monitoring.alarmSet, config.stage);

    new CfnOutput(this, 'ApiUrl', { value: api.api.apiEndpoint, description: 'Connect API base URL (IAM auth: sign requests with SigV4)' });
    new CfnOutput(this, 'ApiInvokeArn', { value: api.routeArn, description: "Resource for the callers' execute-api:Invoke permission" });
    new CfnOutput(this, 'FetchFunctionName', { value: fetch.functionName, description: 'Invoke with {"tenantId": "…"} to import a tenant now' });
    new CfnOutput(this, 'SweeperFunctionName', { value: sweeper.functionName, description: 'Invoke with {} to sweep stalled runs now' });
    new CfnOutput(this, 'PagingTopicArn', { value: monitoring.pagingTopic.topicArn, description: 'Paging alarms: subscribe on-call tooling' });
    new CfnOutput(this, 'TicketsTopicArn', { value: monitoring.ticketsTopic.topicArn, description: 'Ticket alarms: subscribe the ticket queue' });
    new CfnOutput(this, 'ImportDeadLetterQueueUrl', { value: importQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'FetchDeadLetterQueueUrl', { value: functions.fetchDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'ScheduleGroupName', { value: schedules.groupName });
    new CfnOutput(this, 'UsersTableName', { value: tables.users.table.tableName });
    new CfnOutput(this, 'ConnectionsTableName', {
      value: tables.connections.table.tableName,
      description: 'Holds the kill switch: ops/imports-switch.ts pause|resume|status --table <this>',
    });
    new CfnOutput(this, 'WorkerFunctionName', {
      value: worker.functionName,
      description:
        'Its SQS event source mapping stops queued imports: aws lambda list-event-source-mappings --function-name <this>, then update-event-source-mapping --uuid <UUID> --no-enabled',
    });
    // With UsersTableName, ConnectionsTableName and ScheduleGroupName: what ops/erase-tenant.ts reads to erase a tenant.
    new CfnOutput(this, 'RunsTableName', { value: tables.runs.table.tableName });
    new CfnOutput(this, 'AuditTableName', { value: tables.audit.table.tableName });
    new CfnOutput(this, 'SecretPrefix', { value: config.secretPrefix, description: 'Tenant secrets are <this><tenantId>' });
  }
}
