import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withContentionRetry } from '../../lib/storage/contention.js';

/**
 * SDK clients, created once per execution environment. Endpoints come from the standard
 * AWS_ENDPOINT_URL_* variables (the local stack sets them), so nothing here knows about local runs.
 */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/**
 * What the handlers' stores use: the document client with contention (transaction conflicts, throttling) retried
 * with jittered back-off, since run records, connections and link items are shared by concurrent workers.
 */
export const createStoreClient = (): Pick<DynamoDBDocumentClient, 'send'> => withContentionRetry(createDocumentClient());

export const createSqsClient = (): SQSClient => new SQSClient({});
export const createSecretsClient = (): SecretsManagerClient => new SecretsManagerClient({});
