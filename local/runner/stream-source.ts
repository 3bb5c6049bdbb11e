import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../aws/identity.js';
import { lambdaContext } from './events.js';

export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | undefined>;

/** Records given up on after the retries, as Lambda hands them to an event source mapping's on-failure destination. */
export interface StreamFailure {
  tableName: string;
  shardId: string;
  /** The records from the first failed one to the end of its batch. */
  records: DynamoDBRecord[];
  attempts: number;
  reason: 'batch_item_failures' | 'handler_error';
}

export interface StreamSourceOptions {
  /** DynamoDB Local's endpoint (its Streams API answers there too). */
  endpoint: string;
  tableName: string;
  handler: StreamHandler;
  /** Where a shard found at start() begins: TRIM_HORIZON (default: nothing written before start is missed) or LATEST. Later shards start at their beginning. */
  startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Records per invocation (Lambda's BatchSize). Default 100. */
  batchSize?: number;
  /** Retries of a failing batch before its failed records are dropped and reported (Lambda's MaximumRetryAttempts). Default 3. */
  maxRetries?: number;
  /** Pause between polls of a shard with nothing new, and between retries. Default 50 ms. */
  pollIntervalMs?: number;
  /** Called with records given up on (default: a line on stderr naming the table and the count). */
  onFailure?: (failure: StreamFailure) => void;
  functionName?: string;
}

export interface StreamSourceStats {
  invocations: number;
  /** Records the handler took without reporting them. */
  delivered: number;
  /** Re-deliveries after a batch item failure or a handler error. */
  retries: number;
  /** Records given up on (see onFailure). */
  dropped: number;
}

/**
 * Plays Lambda's DynamoDB Streams event source mapping against DynamoDB Local: DescribeTable → the table's stream →
 * DescribeStream → its shards → GetShardIterator → GetRecords, one shard after its parent, records in order. Each batch
 * goes to the handler as a Lambda-shaped DynamoDBStreamEvent. With ReportBatchItemFailures semantics: the records
 * before the first reported one are done, and the batch is delivered again from that one (a handler that throws fails
 * the whole batch), up to `maxRetries` times; then the rest of the batch is reported to onFailure and dropped, as
 * Lambda sends it to the on-failure destination, and the shard moves on.
 */
export class DynamoStreamSource {
  readonly stats: StreamSourceStats = { invocations: 0, delivered: 0, retries: 0, dropped: 0 };
  private readonly streams: DynamoDBStreamsClient;
  private readonly db: DynamoDBClient;
  private running = false;
  private loop: Promise<void> | undefined;
  private error: unknown;
  /** Per shard: when its last poll that found nothing (and left nothing pending) began; Infinity once the shard is drained. */
  private readonly quietSince = new Map<string, number>();
  private readonly started = new Set<string>();
  private lastDescribe = 0;

  constructor(private readonly options: StreamSourceOptions) {
    const client = { endpoint: options.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    this.streams = new DynamoDBStreamsClient(client);
    this.db = new DynamoDBClient(client);
  }

  /** Resolves once the shards present now are known, so that a write made after it is delivered. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { Table } = await this.db.send(new DescribeTableCommand({ TableName: this.options.tableName }));
    const streamArn = Table?.LatestStreamArn;
    if (!streamArn) throw new Error(`Table ${this.options.tableName} has no stream: create it with a StreamSpecification (lib/storage/tables.ts).`);
    const shards = new Map<string, Promise<void>>();
    const discover = async (initial: boolean) => {
      this.lastDescribe = performance.now();
      for (const shard of await this.shards(streamArn)) {
        if (!shard.ShardId || this.started.has(shard.ShardId)) continue;
        this.started.add(shard.ShardId);
        this.quietSince.set(shard.ShardId, -1);
        const parent = shard.ParentShardId ? shards.get(shard.ParentShardId) : undefined;
        const position = initial ? (this.options.startingPosition ?? 'TRIM_HORIZON') : 'TRIM_HORIZON';
        const consumed = async () => {
          // A child shard continues where its parent ended: its records come after the parent's.
          await parent;
          await this.consume(streamArn, shard, position);
        };
        shards.set(shard.ShardId, consumed());
      }
    };
    await discover(true);
    this.loop = (async () => {
      while (this.running) {
        await sleep(250);
        try {
          if (this.running) await discover(false);
        } catch (error) {
          this.error = error;
        }
      }
      await Promise.allSettled(shards.values());
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.streams.destroy();
    this.db.destroy();
  }

  /** An error the poller hit reading the stream (not a handler failure, which is retried and reported). */
  get failure(): unknown {
    return this.error;
  }

  /**
   * Resolves when every record written before the call has been handled (delivered, or dropped after its retries):
   * each shard has since polled and found nothing new, with nothing left to retry.
   */
  async idle(timeoutMs = 30_000): Promise<void> {
    const since = performance.now();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.error) throw this.error;
      const quiet = this.lastDescribe > since && [...this.quietSince.values()].every((t) => t > since);
      if (quiet) return;
      if (!this.running) throw new Error('The stream source is stopped.');
      if (Date.now() > deadline) throw new Error(`The ${this.options.tableName} stream did not settle within ${timeoutMs} ms.`);
      await sleep(20);
    }
  }

  private async shards(streamArn: string): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  private async consume(streamArn: string, shard: Shard, position: 'TRIM_HORIZON' | 'LATEST'): Promise<void> {
    const shardId = shard.ShardId as string;
    let last: string | undefined;
    const iteratorFrom = async (type: 'TRIM_HORIZON' | 'LATEST') => {
      const { ShardIterator } = await this.streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ...(last === undefined ? { ShardIteratorType: type } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: last }),
        }),
      );
      return ShardIterator;
    };
    let iterator = await iteratorFrom(position);
    while (this.running && iterator) {
      const polled = performance.now();
      let records: _Record[];
      try {
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.options.batchSize ?? 100 }));
        records = page.Records ?? [];
        iterator = page.NextShardIterator;
      } catch (error) {
        // DynamoDB Local answers TrimmedDataAccessException for a TRIM_HORIZON iterator of a shard with no records yet,
        // and iterators expire: start again where this shard was left, as nothing was read.
        const name = (error as { name?: unknown }).name;
        if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') {
          this.error = error;
          this.running = false;
          return;
        }
        this.quietSince.set(shardId, polled);
        await sleep(this.options.pollIntervalMs ?? 50);
        iterator = await iteratorFrom('TRIM_HORIZON');
        continue;
      }
      if (records.length > 0) {
        await this.deliver(
          shardId,
          records.map((r) => lambdaRecord(r, streamArn)),
        );
        last = records.at(-1)?.dynamodb?.SequenceNumber ?? last;
      } else {
        this.quietSince.set(shardId, polled);
        if (iterator) await sleep(this.options.pollIntervalMs ?? 50);
      }
    }
    // A closed shard, read to its end: nothing more will come from it.
    if (!iterator) this.quietSince.set(shardId, Number.POSITIVE_INFINITY);
  }

  private async deliver(shardId: string, batch: DynamoDBRecord[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        await sleep(this.options.pollIntervalMs ?? 50);
      }
      this.stats.invocations++;
      let failedAt: number;
      let reason: StreamFailure['reason'] = 'batch_item_failures';
      try {
        const response = await this.options.handler({ Records: pending }, lambdaContext(this.options.functionName ?? 'dado-personio-publisher', 60_000));
        const reported = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        // Lambda resumes from the lowest reported sequence number; an identifier it cannot find fails the whole batch.
        const unknown = [...reported].some((id) => !pending.some((r) => r.dynamodb?.SequenceNumber === id));
        failedAt = unknown ? 0 : pending.findIndex((r) => reported.has(r.dynamodb?.SequenceNumber ?? ''));
      } catch {
        failedAt = 0;
        reason = 'handler_error';
      }
      if (failedAt === -1) {
        this.stats.delivered += pending.length;
        return;
      }
      this.stats.delivered += failedAt;
      pending = pending.slice(failedAt);
      if (attempt >= (this.options.maxRetries ?? 3)) {
        this.stats.dropped += pending.length;
        const failure: StreamFailure = { tableName: this.options.tableName, shardId, records: pending, attempts: attempt + 1, reason };
        (this.options.onFailure ?? reportToStderr)(failure);
        return;
      }
    }
  }
}

function reportToStderr(failure: StreamFailure): void {
  process.stderr.write(
    `local stream source: ${failure.records.length} record(s) of ${failure.tableName} given up after ${failure.attempts} attempt(s) (${failure.reason})\n`,
  );
}

/**
 * An attribute value as Lambda hands it over. An empty map or list in an image reaches this poller as `{}`, a value
 * with no type (it is `{"M":{}}` or `{"L":[]}` on the wire, but the Streams client's reading of the union drops the
 * empty member), which unmarshalling refuses; it becomes an empty map, the one the product writes (customFields).
 */
function attributeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const av = value as Record<string, unknown>;
  if (Object.keys(av).length === 0) return { M: {} };
  if (av['M'] && typeof av['M'] === 'object') return { M: image(av['M'] as Record<string, unknown>) };
  if (Array.isArray(av['L'])) return { L: (av['L'] as unknown[]).map(attributeValue) };
  return av;
}

function image(values: Record<string, unknown> | undefined): NonNullable<DynamoDBRecord['dynamodb']>['NewImage'] {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, attributeValue(v)])) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];
}

/** A Streams API record as Lambda hands it to a function: the same attribute values, the time in epoch seconds. */
function lambdaRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const stream = record.dynamodb;
  const created = stream?.ApproximateCreationDateTime;
  return {
    ...(record.eventID !== undefined && { eventID: record.eventID }),
    ...(record.eventName !== undefined && { eventName: record.eventName }),
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion ?? LOCAL_REGION,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(created !== undefined && { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) }),
      ...(stream?.Keys !== undefined && { Keys: image(stream.Keys) }),
      ...(stream?.NewImage !== undefined && { NewImage: image(stream.NewImage) }),
      ...(stream?.OldImage !== undefined && { OldImage: image(stream.OldImage) }),
      ...(stream?.SequenceNumber !== undefined && { SequenceNumber: stream.SequenceNumber }),
      ...(stream?.SizeBytes !== undefined && { SizeBytes: stream.SizeBytes }),
      ...(stream?.StreamViewType !== undefined && { StreamViewType: stream.StreamViewType }),
    },
  };
}
