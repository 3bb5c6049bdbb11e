import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Key layout of the four tables. The CDK stack and the local stack both build their tables from
 * these definitions, so a key rename cannot leave one of them behind.
 *
 * users:       pk tenantId, sk `user#<userId>` (the user record) or `personio#<id>` (the link from a
 *              Personio employee to its user; created conditionally, so the link is unique per tenant).
 *              GSI byEmail (tenantId, emailKey) finds an existing user by lower-cased email.
 * connections: pk tenantId (one item per tenant: status, mapping, lock of the running fetch), and `#imports`, the
 *              stage's kill switch (a key no tenant id can take: lib/tenants/kill-switch.ts).
 * runs:        pk tenantId, sk `run#<runId>` (the run record), `msg#<runId>#<seq>` (a processed message's
 *              marker: its ids and counts, written once, so redelivery counts nothing twice), `prog#<runId>`
 *              (the set of processed message numbers: how the last message knows it is the last),
 *              `pend#<runId>#<n>` (a held run's pending deactivations, kept until approval) or
 *              `fire#<scheduledAt>` (a schedule firing already started, so a duplicate delivery starts nothing) or
 *              `hook#<sha256 of event|personId|occurredAt>` (a Personio webhook delivery already queued: retries
 *              resend it; expires with `expiresAt`).
 * audit:       pk tenantId, sk `<ISO time>#<id>` (who changed what on a tenant's connection: credentials, mapping,
 *              schedule, approvals, disconnects), so a tenant's entries read newest first with one Query.
 */
export const userKeys = { partition: 'tenantId', sort: 'sk', emailIndex: 'byEmail', emailKey: 'emailKey' } as const;
export const connectionKeys = { partition: 'tenantId' } as const;
/** Message markers carry `expiresAt` (epoch seconds): the table's TTL removes them once their run is long finished. */
export const runKeys = { partition: 'tenantId', sort: 'sk', ttl: 'expiresAt' } as const;
export const auditKeys = { partition: 'tenantId', sort: 'sk' } as const;

/** Sort-key prefixes; the key builders below and the prefix queries both use them. */
export const userPrefix = 'user#';
export const linkPrefix = 'personio#';
export const runPrefix = 'run#';
export const markerPrefix = 'msg#';
export const progressPrefix = 'prog#';
export const pendingPrefix = 'pend#';
export const firingPrefix = 'fire#';
/** `budget#personio`: the lease on a tenant's Personio rate budget, shared by its full and delta fetches (lib/personio/budget.ts). */
export const budgetPrefix = 'budget#';
export const personioBudgetSk = `${budgetPrefix}personio`;
/**
 * Delta runs not yet final, across tenants, under one partition key no tenant id can take (`#deltas`, sk
 * `delta#<tenantId>#<runId>`): a delta run holds no tenant lock, so this is how the sweeper finds one that stalled
 * (lib/runs/open-deltas.ts).
 */
export const openDeltasPartition = '#deltas';
export const openDeltaPrefix = 'delta#';
export const hookPrefix = 'hook#';

export const userSk = (userId: string) => `${userPrefix}${userId}`;
export const linkSk = (personioId: number) => `${linkPrefix}${personioId}`;
export const runSk = (runId: string) => `${runPrefix}${runId}`;
/** All message markers of a run share this prefix. */
export const runMarkersPrefix = (runId: string) => `${markerPrefix}${runId}#`;
export const markerSk = (runId: string, seq: number) => `${runMarkersPrefix(runId)}${String(seq).padStart(6, '0')}`;
export const progressSk = (runId: string) => `${progressPrefix}${runId}`;
/** All pending-deactivation chunks of a held run share this prefix. */
export const runPendingPrefix = (runId: string) => `${pendingPrefix}${runId}#`;
export const pendingSk = (runId: string, chunk: number) => `${runPendingPrefix(runId)}${String(chunk).padStart(4, '0')}`;
export const firingSk = (scheduledAt: string) => `${firingPrefix}${scheduledAt}`;
/** `digest`: the sha256 hex of what identifies one change (lib/webhooks/dedupe.ts). */
export const hookSk = (digest: string) => `${hookPrefix}${digest}`;

export type TableKind = 'users' | 'connections' | 'runs' | 'audit';

/**
 * The users and runs tables keep a stream of every write with the item before and after it: the publisher
 * (functions/publisher.ts) turns it into the product's change events, so no writer can forget to publish one.
 */
export const changeStream = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

/** CreateTable inputs (on-demand billing) for a given physical table name. */
export function tableDefinition(kind: TableKind, tableName: string): CreateTableCommandInput {
  switch (kind) {
    case 'users':
      return {
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: userKeys.partition, AttributeType: 'S' },
          { AttributeName: userKeys.sort, AttributeType: 'S' },
          { AttributeName: userKeys.emailKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: userKeys.partition, KeyType: 'HASH' },
          { AttributeName: userKeys.sort, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: userKeys.emailIndex,
            KeySchema: [
              { AttributeName: userKeys.partition, KeyType: 'HASH' },
              { AttributeName: userKeys.emailKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        StreamSpecification: changeStream,
      };
    case 'connections':
      return {
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: connectionKeys.partition, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: connectionKeys.partition, KeyType: 'HASH' }],
      };
    case 'runs':
      return { ...stringKeyedTable(tableName, runKeys), StreamSpecification: changeStream };
    case 'audit':
      return stringKeyedTable(tableName, auditKeys);
  }
}

/** A table keyed by a string partition key and a string sort key, nothing else. */
function stringKeyedTable(tableName: string, keys: { partition: string; sort: string }): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: keys.partition, AttributeType: 'S' },
      { AttributeName: keys.sort, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: keys.partition, KeyType: 'HASH' },
      { AttributeName: keys.sort, KeyType: 'RANGE' },
    ],
  };
}
