import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';

/** A Lambda-shaped stream record (NEW_AND_OLD_IMAGES) of an item, as DynamoDB Streams would deliver it. */
export function streamRecord(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  item: { old?: Record<string, unknown>; new?: Record<string, unknown> },
  sequenceNumber: string,
  options: { table?: string; createdAtSeconds?: number } = {},
): DynamoDBRecord {
  const source = item.new ?? item.old ?? {};
  const image = (value: Record<string, unknown> | undefined) =>
    value === undefined ? undefined : (marshall(value, { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage']);
  return {
    eventID: `event-${sequenceNumber}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-central-1',
    eventSourceARN: `arn:aws:dynamodb:eu-central-1:000000000000:table/${options.table ?? 'users'}/stream/2026-01-01T00:00:00.000`,
    dynamodb: {
      ApproximateCreationDateTime: options.createdAtSeconds ?? 1_800_000_000,
      Keys: image({ tenantId: source['tenantId'], sk: source['sk'] }),
      SequenceNumber: sequenceNumber,
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...(item.old ? { OldImage: image(item.old) } : {}),
      ...(item.new ? { NewImage: image(item.new) } : {}),
    },
  };
}

/** A stored user item as lib/users writes it: the record and its bookkeeping. */
export function storedUser(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: 't1',
    sk: 'user#u1',
    userId: 'u1',
    personioId: 42,
    email: 'VAL-ada@example.com',
    emailKey: 'val-ada@example.com',
    firstName: 'VAL-Ada',
    preferredName: null,
    lastName: 'VAL-Lovelace',
    position: null,
    team: null,
    department: 'VAL-Engineering',
    office: null,
    employmentType: 'internal',
    hireDate: '1990-01-02',
    terminationDate: null,
    birthday: null,
    status: 'active',
    active: true,
    managerPersonioId: null,
    managerUserId: null,
    customFields: { shirt: 'VAL-L' },
    contentHash: 'hash-1',
    syncedAt: '2026-11-01T00:00:00.000Z',
    createdInRun: 'run-1',
    changedInRun: 'run-1',
    createdAt: '2026-11-01T00:00:01.000Z',
    updatedAt: '2026-11-01T00:00:01.000Z',
    ...overrides,
  };
}

/** A run record as lib/runs/store.ts writes it. */
export function runItem(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: 't1',
    sk: 'run#20261101T000000.000Z-0a0b0c0d',
    runId: '20261101T000000.000Z-0a0b0c0d',
    mode: 'full',
    trigger: 'schedule',
    status: 'finalizing',
    mapping: { fields: {}, customFields: {} },
    startedAt: '2026-11-01T00:00:00.000Z',
    messagesProcessed: 3,
    employeesFetched: 250,
    created: 10,
    updated: 5,
    unchanged: 230,
    failed: 5,
    deactivated: 0,
    dynamoWriteRequests: 20,
    personioRequests: 4,
    personio429: 0,
    findings: [],
    ...overrides,
  };
}
