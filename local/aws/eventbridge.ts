import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, type Json, parseJsonObject, readBody, sendJson } from './http.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './identity.js';
import { startStandInServer } from './server.js';

/**
 * A stand-in for Amazon EventBridge's PutEvents: no emulator exists offline, and the publisher must run the real
 * `@aws-sdk/client-eventbridge` unchanged (it only sees AWS_ENDPOINT_URL_EVENTBRIDGE). So this speaks the real wire
 * protocol (AWS JSON 1.1: `POST /` with `X-Amz-Target: AWSEvents.PutEvents`) and validates like the service: 1-10
 * entries and ≤ 256 KB per request (else the whole request is refused with ValidationException), and per entry a
 * Source, a DetailType and a Detail that is a JSON object, answered entry by entry (`EventId`, or `ErrorCode` and
 * `ErrorMessage`) with `FailedEntryCount`.
 *
 * One rule is stricter than AWS: an entry for a bus that does not exist is refused (ResourceNotFoundException).
 * EventBridge has been reported to accept such entries and drop them (aws/aws-sdk#186); locally a misnamed bus should
 * show, not vanish.
 *
 * Accepted entries are kept in memory as the events a rule on the bus would see, and with `eventsFile` appended to
 * that file as one JSON line each (npm start / npm run serve --events FILE). Faults for tests: `failNext(n)` refuses
 * the next n entries with InternalFailure (as EventBridge does under load, entry by entry), `setUnavailable(true)`
 * answers every request 500 InternalException.
 */

export interface EventBridgeOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
  accountId?: string;
  /** Each accepted entry is appended to this file as one JSON line (the event as a rule's target would get it). */
  eventsFile?: string;
  now?: () => Date;
}

/** An accepted entry, as the bus delivers it to a rule's target. */
export interface PublishedEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Json;
  /** Not on the wire to targets: which bus it was put on. */
  'event-bus-name': string;
}

export interface EventBridgeStandIn {
  url: string;
  port: number;
  /** Event buses exist before events are put on them; `default` always exists. */
  createBus(name: string): void;
  /** Every accepted event, oldest first. */
  events(): PublishedEvent[];
  /** Requests received per operation (including refused ones). */
  calls(): Record<string, number>;
  /** Refuses the next `n` entries (whichever requests carry them) with InternalFailure. */
  failNext(n: number): void;
  /** While true every request is answered 500 InternalException. */
  setUnavailable(v: boolean): void;
  close(): Promise<void>;
}

/** PutEvents' limits: entries per request, and bytes per request as EventBridge counts them. */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const BUS_NAME = /^[/.\-_A-Za-z0-9]{1,256}$/;
const BUS_ARN = /^arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus\/([/.\-_A-Za-z0-9]+)$/;

const readRequest = (req: IncomingMessage) => readBody(req, MAX_BODY_BYTES, () => new ApiError(413, 'ValidationException', 'Request body is too large.', true));
const parseJson = (text: string) => parseJsonObject(text, (message) => new ApiError(400, 'SerializationException', message, true));
const send = (res: ServerResponse, status: number, body: Json, errorType?: string) => sendJson(res, status, body, 'application/x-amz-json-1.1', errorType);
const sendError = (res: ServerResponse, error: ApiError) => send(res, error.status, { __type: error.type, message: error.message }, error.type);
const validation = (message: string) => new ApiError(400, 'ValidationException', message, true);
const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export async function startEventBridge(opts: EventBridgeOptions = {}): Promise<EventBridgeStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const region = opts.region ?? LOCAL_REGION;
  const account = opts.accountId ?? LOCAL_ACCOUNT_ID;
  const now = opts.now ?? (() => new Date());
  const buses = new Set(['default']);
  const published: PublishedEvent[] = [];
  const counts: Record<string, number> = {};
  let unavailable = false;
  let failures = 0;
  // Appends in acceptance order, one at a time, so the file's lines are whole and ordered.
  let writing: Promise<void> = Promise.resolve();

  const busOf = (entry: Json): string => {
    const given = typeof entry['EventBusName'] === 'string' ? entry['EventBusName'] : 'default';
    return BUS_ARN.exec(given)?.[1] ?? given;
  };

  /** One entry's answer, or undefined when it may be accepted. */
  function refusal(entry: Json): EntryResult | undefined {
    const invalid = (name: string, reason: string) => ({ ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${name} is not valid. Reason: ${reason}` });
    const { Source: source, DetailType: detailType, Detail: detail } = entry;
    if (typeof source !== 'string' || source === '') return invalid('Source', 'Source is a required argument.');
    if (source.length > 256) return invalid('Source', 'Source must be at most 256 characters.');
    if (source.startsWith('aws.')) return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    if (typeof detailType !== 'string' || detailType === '') return invalid('DetailType', 'DetailType is a required argument.');
    if (detailType.length > 128) return invalid('DetailType', 'DetailType must be at most 128 characters.');
    if (typeof detail !== 'string' || detail === '') return invalid('Detail', 'Detail is a required argument.');
    if (!isJsonObject(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const bus = busOf(entry);
    if (!BUS_NAME.test(bus)) return invalid('EventBusName', 'EventBusName is not a valid event bus name or ARN.');
    if (!buses.has(bus)) return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
    return undefined;
  }

  async function putEvents(body: Json): Promise<Json> {
    const entries = body['Entries'];
    if (!Array.isArray(entries)) throw validation("1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null");
    if (entries.length < 1 || entries.length > MAX_ENTRIES)
      throw validation(
        `1 validation error detected: Value '[...]' at 'entries' failed to satisfy constraint: Member must have length ${entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`}`,
      );
    // The size EventBridge counts: Time (14 bytes), Source, DetailType, Detail and each resource.
    const size = entries.reduce<number>((sum, e: Json) => {
      const resources = Array.isArray(e?.['Resources']) ? (e['Resources'] as unknown[]) : [];
      return (
        sum +
        (e?.['Time'] !== undefined ? 14 : 0) +
        bytes(e?.['Source']) +
        bytes(e?.['DetailType']) +
        bytes(e?.['Detail']) +
        resources.reduce<number>((s, r) => s + bytes(r), 0)
      );
    }, 0);
    if (size > MAX_REQUEST_BYTES) throw validation('Total size of the entries in the request is over the limit.');

    const results: EntryResult[] = [];
    const accepted: PublishedEvent[] = [];
    for (const raw of entries as unknown[]) {
      const entry = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Json) : {};
      const refused = refusal(entry);
      if (refused) {
        results.push(refused);
      } else if (failures > 0) {
        failures--;
        results.push({ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Failure' });
      } else {
        const event = toEvent(entry);
        accepted.push(event);
        results.push({ EventId: event.id });
      }
    }
    published.push(...accepted);
    if (opts.eventsFile && accepted.length > 0) {
      const file = opts.eventsFile;
      const lines = accepted.map((e) => `${JSON.stringify(e)}\n`).join('');
      writing = writing.then(() => appendFile(file, lines, 'utf8'));
      await writing;
    }
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  function toEvent(entry: Json): PublishedEvent {
    const time = typeof entry['Time'] === 'number' ? new Date(entry['Time'] * 1000) : now();
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': entry['DetailType'] as string,
      source: entry['Source'] as string,
      account,
      time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region,
      resources: Array.isArray(entry['Resources']) ? (entry['Resources'] as unknown[]).filter((r): r is string => typeof r === 'string') : [],
      detail: JSON.parse(entry['Detail'] as string) as Json,
      'event-bus-name': busOf(entry),
    };
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' && target.startsWith('AWSEvents.') ? target.slice('AWSEvents.'.length) : undefined;
    if (operation !== undefined) counts[operation] = (counts[operation] ?? 0) + 1;
    // Drain the body first, so the connection stays usable for the SDK's retry.
    const text = await readRequest(req);
    if (unavailable) throw new ApiError(500, 'InternalException', 'An internal error occurred.');
    if (req.method !== 'POST' || operation === undefined)
      throw new ApiError(400, 'UnknownOperationException', 'Expected POST / with X-Amz-Target: AWSEvents.<Operation>.', true);
    if (operation !== 'PutEvents') throw new ApiError(400, 'UnknownOperationException', `${operation} is not an operation of the local EventBridge.`, true);
    send(res, 200, await putEvents(parseJson(text)));
  };

  const server = await startStandInServer({
    port: opts.port ?? 0,
    host,
    handle,
    sendError,
    internalError: new ApiError(500, 'InternalException', 'An internal error occurred.'),
  });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`,
    port: server.port,
    createBus: (name) => {
      if (!BUS_NAME.test(name)) throw new Error(`Not an event bus name: ${name}`);
      buses.add(name);
    },
    events: () => published.map((e) => structuredClone(e)),
    calls: () => ({ ...counts }),
    failNext: (n) => {
      failures = Math.max(0, Math.floor(n));
    },
    setUnavailable: (v) => {
      unavailable = v;
    },
    close: server.close,
  };
}

function isJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
  } catch {
    return false;
  }
}
