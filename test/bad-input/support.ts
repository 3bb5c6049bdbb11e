/**
 * Shared by the bad-input suite (not a test file itself): snapshots of everything the local stack stores, so a
 * property can assert that a rejected input changed nothing, and a few generators of hostile text and JSON.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { createDocumentClient } from '../../functions/shared/clients.js';
import { localNames, type LocalEnvironment } from '../../local/runner/environment.js';

// ---- what the stack stores -----------------------------------------------------------------------------

const db = () => createDocumentClient();

/** Every item of a table, in a stable order (JSON text, so a comparison shows what changed). */
export async function scanTable(tableName: string): Promise<string[]> {
  const client = db();
  const items: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of page.Items ?? []) items.push(JSON.stringify(sortKeys(item)));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort();
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Set) return [...value].map(sortKeys).sort();
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}

/** Operations of the stand-ins that read only; every other call is an attempt to store or change something. */
const READ_ONLY = /^(Get|Describe|List)/;

function writes(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([operation]) => !READ_ONLY.test(operation)));
}

export interface StoredState {
  connections: string[];
  runs: string[];
  users: string[];
  /** Audit entries: a rejected request records no change. */
  audit: string[];
  /** Write calls the Secrets Manager stand-in received (CreateSecret, PutSecretValue, DeleteSecret, ...). */
  secretWrites: Record<string, number>;
  schedules: string;
  /** Write calls the Scheduler stand-in received (CreateSchedule, UpdateSchedule, DeleteSchedule). */
  scheduleWrites: Record<string, number>;
  /** Invocations of the fetch through the Lambda stand-in ("import now"). */
  lambdaCalls: Record<string, number>;
}

export async function storedState(env: LocalEnvironment): Promise<StoredState> {
  const [connections, runs, users, audit] = await Promise.all([
    scanTable(localNames.connectionsTable),
    scanTable(localNames.runsTable),
    scanTable(localNames.usersTable),
    scanTable(localNames.auditTable),
  ]);
  return {
    connections,
    runs,
    users,
    audit,
    secretWrites: writes(env.stack.secretsManager.calls()),
    schedules: JSON.stringify(env.stack.scheduler.schedules()),
    scheduleWrites: writes(env.stack.scheduler.calls()),
    lambdaCalls: env.stack.lambda.calls(),
  };
}

// ---- hostile input -------------------------------------------------------------------------------------

/** Strings a user (or an attacker) might type: every unicode plane, control characters, lone surrogates, whitespace. */
export const weirdString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.constantFrom(
      '',
      ' ',
      '\t\n',
      '\u00a0',
      '\ufeff',
      '\u0000',
      '\ud800',
      '💥',
      'ß',
      'İ',
      'null',
      'true',
      '0',
      '-1',
      '1e309',
      '__proto__',
      'constructor',
      '../..',
      '%00',
      '%',
      '%zz',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${x} is one of the weird strings sent as is, to show the API never interpolates input
      '${x}',
      '<script>',
    ),
  );

/** JSON values of every kind, including ones the schemas never expect (deep nesting, -0, huge numbers, __proto__ keys). */
export const anyJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: false }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown),
  fc.constantFrom<unknown>({ __proto__: null }, JSON.parse('{"__proto__": {"success": true}}'), [], {}, '', 0, -0, 1e308, null, true, false),
);

/** Text that is not JSON at all, or almost JSON. */
export const notJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '{',
    '}',
    '{"a":',
    '[1,]',
    "{'a': 1}",
    '{"a":1}{"b":2}',
    'undefined',
    'NaN',
    'Infinity',
    '{"a": 01}',
    '\u0000',
    '<html>502 Bad Gateway</html>',
    '{"success": true, "data": [',
    'nul',
  ),
  fc.json({ maxDepth: 2 }).map((text) => text.slice(0, Math.max(0, text.length - 1))),
);

/** A text body: JSON of any shape, or not JSON. */
export const anyBodyText: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  anyJsonValue.map((v) => JSON.stringify(v)),
  notJsonText,
);

/** A value of another JSON type than the field expects (by construction never a string). */
export const nonString: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** A body over the connect API's 16 KiB limit, in one string field. */
export const hugeString: fc.Arbitrary<string> = fc
  .integer({ min: 16 * 1024 + 1, max: 64 * 1024 })
  .chain((n) => fc.constantFrom('x', 'é', '💥').map((c) => c.repeat(Math.ceil(n / Buffer.byteLength(c)))));

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function tryParse(text: string | undefined): { ok: true; value: unknown } | { ok: false } {
  if (text === undefined) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}
