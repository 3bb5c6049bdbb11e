import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../../lib/config.js';
import { CredentialsStore } from '../../lib/credentials/store.js';
import { QueueSender } from '../../lib/queue/sender.js';
import { RunStore } from '../../lib/runs/store.js';
import { ConnectionStore } from '../../lib/tenants/connections.js';
import { UserStore } from '../../lib/users/store.js';
import { createSecretsClient } from './clients.js';

/**
 * The configuration both functions that read Personio's employees (the fetch and the refresh) need; each lists these
 * keys in its own loadConfig([...]) (the stack test reads that list as written).
 */
type PersonioImportKey =
  | 'usersTable'
  | 'connectionsTable'
  | 'runsTable'
  | 'importQueueUrl'
  | 'secretPrefix'
  | 'personioBaseUrl'
  | 'personioAppId'
  | 'deactivationThreshold'
  | 'runRetentionDays';

/**
 * What the fetch and the refresh share: the stores, the tenant's credentials, the import queue and the deployment's
 * Personio. Created once per execution environment, at module load.
 */
export function personioImportDeps(config: Config<PersonioImportKey>, db: Pick<DynamoDBDocumentClient, 'send'>, sqs: SQSClient) {
  return {
    connections: new ConnectionStore(db, config.connectionsTable),
    runs: new RunStore(db, config.runsTable, { retentionDays: config.runRetentionDays }),
    users: new UserStore(db, config.usersTable),
    credentials: new CredentialsStore(createSecretsClient(), config.secretPrefix),
    createSender: () => new QueueSender({ sqs, queueUrl: config.importQueueUrl }),
    personio: { baseUrl: config.personioBaseUrl, appId: config.personioAppId },
    now: () => new Date(),
    deactivationThreshold: config.deactivationThreshold,
  };
}
