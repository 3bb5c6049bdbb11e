import type { IncomingMessage, ServerResponse } from 'node:http';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './identity.js';
import { ApiError, parseJsonObject, readBody, sendJson, type Json } from './http.js';
import { checkExpression, decodeToken, int, NAME, obj, str, timestamp, validation } from './scheduler-validation.js';
import { startStandInServer } from './server.js';

/**
 * A stand-in for Amazon EventBridge Scheduler: no emulator exists offline, and connect must run the real
 * `@aws-sdk/client-scheduler` unchanged (it only sees AWS_ENDPOINT_URL_SCHEDULER). So this speaks the
 * real wire protocol (REST-JSON: `POST|PUT|GET|DELETE /schedules/{Name}?groupName=…` and
 * `GET /schedules?ScheduleGroup=…&NamePrefix=…&State=…&MaxResults=…&NextToken=…`) for the five operations the
 * product uses, with the service's error names, HTTP statuses and validation rules.
 * Schedules live in memory and never fire: locally, imports are started by the runner or the API.
 *
 * Wire details the SDK depends on: the error name travels in the `x-amzn-ErrorType` header (and the
 * body's `__type`), the message in the body's `Message`; timestamps are epoch seconds.
 */

export interface SchedulerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
  accountId?: string;
  /** The service's clock (epoch ms): what "now" is for creation times and the start-date rule. Default Date.now. */
  now?: () => number;
}

export interface StoredSchedule {
  Name: string;
  GroupName: string;
  Arn: string;
  ScheduleExpression: string;
  State: 'ENABLED' | 'DISABLED';
  FlexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  Target: Record<string, unknown> & { Arn: string; RoleArn: string; Input?: string };
  Description?: string;
  /** Epoch seconds, as on the wire. */
  StartDate?: number;
  EndDate?: number;
  ScheduleExpressionTimezone?: string;
  CreationDate: number;
  LastModificationDate: number;
}

export interface SchedulerStandIn {
  url: string;
  port: number;
  /** Schedule groups exist in AWS before schedules are put in them; `default` always exists. */
  createGroup(name: string): void;
  /** Every schedule, for tests and diagnostics. */
  schedules(): StoredSchedule[];
  /** Requests received per operation. */
  calls(): Record<string, number>;
  /** While true every request is answered 500 InternalServerException. */
  setUnavailable(v: boolean): void;
  close(): Promise<void>;
}

const operations: Record<string, string> = { POST: 'CreateSchedule', PUT: 'UpdateSchedule', GET: 'GetSchedule', DELETE: 'DeleteSchedule' };
/** ListSchedules' page size: MaxResults may be 1-100, and a request without one gets a full page. */
const MAX_PAGE = 100;
const MAX_BODY_BYTES = 256 * 1024;

class ScheduleStore {
  private readonly groups = new Set(['default']);
  private readonly items = new Map<string, StoredSchedule>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
    private readonly now: () => number,
  ) {}

  createGroup(name: string): void {
    this.groups.add(name);
  }

  all(): StoredSchedule[] {
    return [...this.items.values()].map((s) => structuredClone(s));
  }

  /**
   * ListSchedules: summaries (the target's ARN only, not its role or input) in a stable order (group, then name), one
   * page at a time. The token is opaque to the client; here it names the last schedule of the previous page, so a
   * schedule created or deleted between pages neither repeats nor shifts the others.
   */
  list(query: URLSearchParams): Json {
    const group = query.get('ScheduleGroup') ?? undefined;
    const prefix = query.get('NamePrefix') ?? undefined;
    const state = query.get('State') ?? undefined;
    const token = query.get('NextToken') ?? undefined;
    const maxText = query.get('MaxResults');
    for (const [field, value] of [
      ['groupName', group],
      ['namePrefix', prefix],
    ] as const)
      if (value !== undefined && !NAME.test(value))
        throw validation(
          `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+`,
        );
    if (state !== undefined && state !== 'ENABLED' && state !== 'DISABLED')
      throw validation(
        `1 validation error detected: Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`,
      );
    const max = maxText === null ? MAX_PAGE : Number(maxText);
    if (!Number.isInteger(max) || max < 1 || max > MAX_PAGE)
      throw validation(
        `1 validation error detected: Value '${maxText}' at 'maxResults' failed to satisfy constraint: Member must be between 1 and ${MAX_PAGE}`,
      );
    const after = token === undefined ? undefined : decodeToken(token);

    const sortKey = (s: StoredSchedule) => `${s.GroupName}/${s.Name}`;
    const matching = [...this.items.values()]
      .filter((s) => (group === undefined || s.GroupName === group) && (prefix === undefined || s.Name.startsWith(prefix)))
      .filter((s) => state === undefined || s.State === state)
      .filter((s) => after === undefined || sortKey(s) > after)
      .sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    const page = matching.slice(0, max);
    const last = page.at(-1);
    return {
      Schedules: page.map((s) => ({
        Arn: s.Arn,
        Name: s.Name,
        GroupName: s.GroupName,
        State: s.State,
        CreationDate: s.CreationDate,
        LastModificationDate: s.LastModificationDate,
        Target: { Arn: s.Target.Arn },
      })),
      ...(matching.length > max && last && { NextToken: Buffer.from(sortKey(last)).toString('base64url') }),
    };
  }

  handle(method: string, name: string, query: URLSearchParams, body: Json): Json {
    if (!NAME.test(name))
      throw validation(
        `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+`,
      );
    const bodyGroup = typeof body['GroupName'] === 'string' ? body['GroupName'] : undefined;
    const group = (method === 'GET' || method === 'DELETE' ? query.get('groupName') : bodyGroup) ?? 'default';
    if (!NAME.test(group))
      throw validation(
        `1 validation error detected: Value '${group}' at 'groupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+`,
      );
    const key = `${group}/${name}`;
    switch (method) {
      case 'POST':
        return this.save(key, name, group, body, 'create');
      case 'PUT':
        return this.save(key, name, group, body, 'update');
      case 'GET': {
        this.requireGroup(group);
        const found = this.items.get(key);
        if (!found) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
        return { ...structuredClone(found), ActionAfterCompletion: 'NONE' };
      }
      case 'DELETE':
        this.requireGroup(group);
        if (!this.items.delete(key)) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
        return {};
      default:
        throw new ApiError(404, 'UnknownOperationException', `${method} /schedules/{Name} is not an operation of the local Scheduler.`);
    }
  }

  private requireGroup(group: string): void {
    if (!this.groups.has(group)) throw new ApiError(404, 'ResourceNotFoundException', `Schedule group ${group} does not exist.`);
  }

  private save(key: string, name: string, group: string, body: Json, mode: 'create' | 'update'): Json {
    const expression = str(body, 'ScheduleExpression', true, 256) as string;
    const window = obj(body, 'FlexibleTimeWindow', true) as Json;
    const target = obj(body, 'Target', true) as Json;
    const state = str(body, 'State', false, 8) ?? 'ENABLED';
    const description = str(body, 'Description', false, 512);
    const timezone = str(body, 'ScheduleExpressionTimezone', false, 50);
    const startDate = timestamp(body, 'StartDate');
    const endDate = timestamp(body, 'EndDate');
    const mode_ = str(window, 'Mode', true, 8);
    const maxWindow = int(window, 'MaximumWindowInMinutes', 1, 1440);
    const targetArn = str(target, 'Arn', true) as string;
    const roleArn = str(target, 'RoleArn', true) as string;
    const input = str(target, 'Input', false, 8192);
    const retry = obj(target, 'RetryPolicy', false);
    if (retry) {
      int(retry, 'MaximumEventAgeInSeconds', 60, 86_400);
      int(retry, 'MaximumRetryAttempts', 0, 185);
    }
    checkExpression(expression);
    if (state !== 'ENABLED' && state !== 'DISABLED')
      throw validation(
        `1 validation error detected: Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`,
      );
    if (mode_ !== 'OFF' && mode_ !== 'FLEXIBLE')
      throw validation(
        `1 validation error detected: Value '${mode_}' at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]`,
      );
    if (mode_ === 'FLEXIBLE' && maxWindow === undefined) throw validation('MaximumWindowInMinutes must be provided when Mode is FLEXIBLE.');
    if (mode_ === 'OFF' && maxWindow !== undefined) throw validation('MaximumWindowInMinutes must not be provided when Mode is OFF.');
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/.test(roleArn)) throw validation(`Invalid RoleArn ${roleArn}.`);
    // Scheduler's rule for recurring schedules, on create and on update alike.
    if (startDate !== undefined && !expression.startsWith('at(') && startDate < this.now() / 1000 - 300)
      throw validation('The StartDate you specify cannot be earlier than 5 minutes ago.');
    if (startDate !== undefined && endDate !== undefined && endDate <= startDate) throw validation('The EndDate you specify must be after the StartDate.');
    if (!/^arn:aws[a-z-]*:[a-z0-9-]+:/.test(targetArn)) throw validation(`Invalid target Arn ${targetArn}.`);
    this.requireGroup(group);

    const existing = this.items.get(key);
    if (mode === 'create' && existing) throw new ApiError(409, 'ConflictException', `Schedule ${name} already exists.`);
    if (mode === 'update' && !existing) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
    const now = this.now() / 1000;
    const schedule: StoredSchedule = {
      Name: name,
      GroupName: group,
      Arn: `arn:aws:scheduler:${this.region}:${this.accountId}:schedule/${group}/${name}`,
      ScheduleExpression: expression,
      State: state,
      FlexibleTimeWindow: { Mode: mode_, ...(maxWindow !== undefined && { MaximumWindowInMinutes: maxWindow }) },
      Target: { ...structuredClone(target), Arn: targetArn, RoleArn: roleArn, ...(input !== undefined && { Input: input }) },
      ...(description !== undefined && { Description: description }),
      ...(timezone !== undefined && { ScheduleExpressionTimezone: timezone }),
      ...(startDate !== undefined && { StartDate: startDate }),
      ...(endDate !== undefined && { EndDate: endDate }),
      CreationDate: existing?.CreationDate ?? now,
      LastModificationDate: now,
    };
    this.items.set(key, schedule);
    return { ScheduleArn: schedule.Arn };
  }
}

const readRequest = (req: IncomingMessage) => readBody(req, MAX_BODY_BYTES, () => new ApiError(413, 'ValidationException', 'Request body is too large.'));
const parseJson = (text: string) => parseJsonObject(text, (message) => new ApiError(400, 'SerializationException', message));
const send = (res: ServerResponse, status: number, body: Json, errorType?: string) => sendJson(res, status, body, 'application/json', errorType);

export async function startScheduler(opts: SchedulerOptions = {}): Promise<SchedulerStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const store = new ScheduleStore(opts.region ?? LOCAL_REGION, opts.accountId ?? LOCAL_ACCOUNT_ID, opts.now ?? Date.now);
  const counts: Record<string, number> = {};
  let unavailable = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const text = await readRequest(req);
    const listing = url.pathname === '/schedules' && req.method === 'GET';
    const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
    if (!match && !listing) throw new ApiError(404, 'UnknownOperationException', `No operation at ${req.method} ${url.pathname} in the local Scheduler.`);
    const operation = listing ? 'ListSchedules' : operations[req.method ?? ''];
    if (operation) counts[operation] = (counts[operation] ?? 0) + 1;
    if (unavailable) throw new ApiError(500, 'InternalServerException', 'Unexpected error during processing of request.');
    if (listing) send(res, 200, store.list(url.searchParams));
    else send(res, 200, store.handle(req.method ?? 'GET', decodeURIComponent(match?.[1] ?? ''), url.searchParams, parseJson(text)));
  };

  const server = await startStandInServer({
    port: opts.port ?? 0,
    host,
    handle,
    sendError: (res, e) => send(res, e.status, { __type: e.type, Message: e.message }, e.type),
    internalError: new ApiError(500, 'InternalServerException', 'Unexpected error during processing of request.'),
  });
  return {
    url: `http://${host}:${server.port}`,
    port: server.port,
    createGroup: (name) => store.createGroup(name),
    schedules: () => store.all(),
    calls: () => ({ ...counts }),
    setUnavailable: (v) => {
      unavailable = v;
    },
    close: server.close,
  };
}
