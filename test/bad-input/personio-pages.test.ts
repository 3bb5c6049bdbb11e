/**
 * Bad employee pages from "Personio" for the real fetch handler on the local stack. The simulator serves only
 * well-formed pages (its malformedRate knob truncates at random), so a small Personio front passes every request
 * through to the simulator and replaces the body of chosen `GET /v1/company/employees` pages with generated text:
 * any JSON, not JSON, or the real page with one thing broken. The fetch must then end with a run marked failed
 * with the stable code personio_bad_response (or complete, when the page is a valid one), never throw, send
 * nothing from the rejected page, and say nothing of the page's content or the credential in the failure.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioProxy } from '../helpers/personio-proxy.js';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { connectThroughApi } from '../../local/runner/import-run.js';
import { httpEvent, lambdaContext, sqsEvent } from '../helpers/events.js';
import { deleteMessages, queueDepth } from '../helpers/queue.js';
import { expectedUser } from '../helpers/expected-user.js';
import { anyBodyText, anyJsonValue, isPlainObject, scanTable, tryParse } from './support.js';

/** One credential per tenant: the client paces each credential to Personio's 15 requests/s on its own. */
const CREDENTIALS = [0, 1, 2, 3].map((i) => ({ clientId: `pages-client-${i}`, clientSecret: `pages-secret-${i}-9f8e7d` }));
const TENANTS = CREDENTIALS.map((_, i) => `pages-${i}`);
/** A Lambda budget short enough that even a hostile valid page (claiming millions of employees) ends the fetch quickly. */
const FETCH_BUDGET_MS = 25_000;

/** Rewrites the body of an employee list page (offset, the simulator's text) or passes it on (undefined). */
type Rewrite = (offset: number, real: string) => string | undefined;

/** A Personio in front of the simulator whose list pages can be replaced. */
async function startPersonioFront(simUrl: string): Promise<{ url: string; rewrite: Rewrite | undefined; close(): Promise<void> }> {
  const front = { rewrite: undefined as Rewrite | undefined };
  const proxy = await startPersonioProxy(simUrl, {
    response: (method, url, status, body) =>
      status === 200 && method === 'GET' && url.pathname === '/v1/company/employees' && front.rewrite
        ? front.rewrite(Number(url.searchParams.get('offset') ?? 0), body)
        : undefined,
  });
  return {
    url: proxy.url,
    get rewrite() {
      return front.rewrite;
    },
    set rewrite(r: Rewrite | undefined) {
      front.rewrite = r;
    },
    close: () => proxy.close(),
  };
}

// ---- what a valid employees page is (Personio's v1 envelope), written out independently of lib/personio -----

const looseInt = (v: unknown) => v === undefined || typeof v === 'number' || (typeof v === 'string' && /^-?\d+$/.test(v.trim()));
const optionalString = (v: unknown) => v === undefined || typeof v === 'string';
const nullishString = (v: unknown) => v === undefined || v === null || typeof v === 'string';

function isEmployeesPage(page: unknown): boolean {
  if (!isPlainObject(page) || page['success'] !== true || !Array.isArray(page['data'])) return false;
  if (!looseInt(page['offset']) || !looseInt(page['limit'])) return false;
  const metadata = page['metadata'];
  if (metadata !== undefined && (!isPlainObject(metadata) || !['total_elements', 'current_page', 'total_pages'].every((k) => looseInt(metadata[k]))))
    return false;
  return page['data'].every(
    (e) =>
      isPlainObject(e) &&
      optionalString(e['type']) &&
      isPlainObject(e['attributes']) &&
      Object.values(e['attributes']).every(
        (a) => isPlainObject(a) && optionalString(a['type']) && nullishString(a['universal_id']) && nullishString(a['label']),
      ),
  );
}

// ---- generators ------------------------------------------------------------------------------------------

interface PageJson {
  success: unknown;
  metadata?: unknown;
  data: { type?: string; attributes: Record<string, Record<string, unknown>> }[];
  [key: string]: unknown;
}

/** The real page with its employees renamed to the canary (ids and names a test can look for afterwards). */
function withCanary(real: string, canary: string, firstId: number): PageJson {
  const page = JSON.parse(real) as PageJson;
  page.data.forEach((employee, i) => {
    employee.attributes['id'] = { ...employee.attributes['id'], value: firstId + i };
    employee.attributes['first_name'] = { ...employee.attributes['first_name'], value: `${canary}-${i}` };
    employee.attributes['email'] = { ...employee.attributes['email'], value: `${canary}-${i}@example.com` };
  });
  return page;
}

type Break = (page: PageJson, text: string) => string;

/** One thing broken in a real page, so that it is no valid employees page any more. */
const breaks: fc.Arbitrary<Break> = fc.oneof(
  anyJsonValue
    .filter((v) => v !== true)
    .map(
      (v): Break =>
        (page) =>
          JSON.stringify({ ...page, success: v }),
    ),
  fc.constant<Break>((page) => JSON.stringify({ ...page, success: undefined })),
  fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 })).map(
    (v): Break =>
      (page) =>
        JSON.stringify({ ...page, data: v }),
  ),
  fc.tuple(fc.nat(), fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 2 }))).map(
    ([i, v]): Break =>
      (page) => {
        const data = [...page.data];
        data[i % Math.max(1, data.length)] = v as never;
        return JSON.stringify({ ...page, data });
      },
  ),
  fc.tuple(fc.nat(), fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 2 }))).map(
    ([i, v]): Break =>
      (page) => {
        const data = page.data.map((e, j) => (j === i % page.data.length ? { ...e, attributes: v } : e));
        return JSON.stringify({ ...page, data });
      },
  ),
  fc
    .tuple(fc.nat(), fc.constantFrom('first_name', 'last_name', 'status', 'department'), fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.boolean()))
    .map(
      ([i, key, v]): Break =>
        (page) => {
          // The attribute's value directly, without Personio's {label, value, type} wrapper.
          const data = page.data.map((e, j) => (j === i % page.data.length ? { ...e, attributes: { ...e.attributes, [key]: v as never } } : e));
          return JSON.stringify({ ...page, data });
        },
    ),
  fc.oneof(fc.integer(), fc.boolean(), fc.constant([])).map(
    (t): Break =>
      (page) => {
        const data = page.data.map((e, j) => (j === 0 ? { ...e, attributes: { ...e.attributes, email: { ...e.attributes['email'], type: t } } } : e));
        return JSON.stringify({ ...page, data });
      },
  ),
  fc.oneof(fc.constantFrom('many', '1.5', '', '0x10'), fc.constant(null), fc.constant({}), fc.constant([])).chain((v) =>
    fc.constantFrom<Break>(
      (page) => JSON.stringify({ ...page, metadata: { ...(page.metadata as object), total_elements: v } }),
      (page) => JSON.stringify({ ...page, offset: v }),
    ),
  ),
  fc.constant<Break>((page) => JSON.stringify({ ...page, metadata: null })),
  // An attribute under a long key (page content: it must not be echoed into the failure, nor break storing it).
  {
    weight: 2,
    arbitrary: fc.tuple(fc.integer({ min: 41, max: 450_000 }), fc.oneof(fc.constant(null), fc.string(), fc.integer())).map(
      ([length, v]): Break =>
        (page) => {
          const data = page.data.map((e, j) => (j === 0 ? { ...e, attributes: { ...e.attributes, [`dynamic_${'9'.repeat(length)}`]: v as never } } : e));
          return JSON.stringify({ ...page, data });
        },
    ),
  },
  fc.double({ min: 0.05, max: 0.95, noNaN: true }).map(
    (share): Break =>
      (_, text) =>
        text.slice(0, Math.floor(text.length * share)),
  ),
  fc.constantFrom<Break>(
    () => '<html><body>502 Bad Gateway</body></html>',
    () => '',
    (_, text) => `${text}}`,
    (_, text) => `[${text}]`,
  ),
);

// ---- the suite -------------------------------------------------------------------------------------------

describe('the fetch under bad Personio pages', () => {
  let sim: PersonioSim;
  let front: Awaited<ReturnType<typeof startPersonioFront>>;
  let env: LocalEnvironment;
  let turn = 0;
  let nextCanaryId = 9_000_000;

  beforeAll(async () => {
    sim = await startPersonioSim({
      employees: 150,
      seed: 9,
      credentials: CREDENTIALS,
      authPerMinute: 1_000_000,
      employeesPerMinute: 1_000_000,
      employeesPerSecond: 1_000_000,
      ipPerMinute: 1_000_000,
    });
    front = await startPersonioFront(sim.url);
    env = await startLocalEnvironment({ personio: { url: front.url, ...CREDENTIALS[0]! } });
    for (const [i, tenant] of TENANTS.entries()) await connectThroughApi(env, tenant, { url: front.url, ...CREDENTIALS[i]! });
  }, 90_000);

  afterAll(async () => {
    await env?.stop();
    await front?.close();
    await sim?.close();
  });

  const invokeFetch = (tenantId: string) => env.handlers.fetch({ tenantId }, lambdaContext('personio-fetch', FETCH_BUDGET_MS));

  /** Empties the import queue, through the real worker when `process` (so whatever was sent lands in the users table). */
  async function drainQueue(process: boolean): Promise<void> {
    for (;;) {
      const received = await env.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: env.queueUrls.importQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }),
      );
      const messages = received.Messages ?? [];
      if (messages.length === 0 && (await queueDepth(env)) === 0) return;
      if (messages.length === 0) continue;
      if (process) await env.handlers.worker(sqsEvent(messages), lambdaContext('personio-worker', 60_000));
      await deleteMessages(env, messages);
    }
  }

  /** What no failure, log-free run record or user may contain: page content and the credential. */
  function expectNothingLeaked(texts: string[], canary: string, tenantIndex: number): void {
    // No run of 40 characters of an attribute key (the long keys above) either.
    for (const text of texts) expect(text).not.toMatch(/9{41}/);
    for (const text of texts) {
      expect(text).not.toContain(canary);
      expect(text).not.toContain(CREDENTIALS[tenantIndex]!.clientSecret);
    }
  }

  it('fails the run with personio_bad_response for any first page that is not a valid one, sends nothing and stores no user; a valid one completes the run', async () => {
    const canaries = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split('')), minLength: 12, maxLength: 12 }).map((s) => `canary${s}`);
    const body = fc.oneof(
      { weight: 2, arbitrary: anyBodyText.map((text) => (_page: string, _canary: string) => text) },
      {
        weight: 3,
        arbitrary: breaks.map((broken) => (page: string, canary: string) => broken(withCanary(page, canary, 0), JSON.stringify(withCanary(page, canary, 0)))),
      },
      // The real page, untouched: the fetch completes, and so does the run.
      { weight: 1, arbitrary: fc.constant((page: string) => page) },
    );
    await fc.assert(
      fc.asyncProperty(body, canaries, async (makeBody, canary) => {
        // Prepare: page 0 is replaced, the others pass through from the simulator
        const index = turn++ % TENANTS.length;
        const tenantId = TENANTS[index]!;
        let served: string | undefined;
        let untouched = false;
        front.rewrite = (offset, real) => {
          if (offset !== 0) return undefined;
          served = makeBody(real, canary);
          untouched = served === real;
          return served;
        };
        const usersBefore = await scanTable(localNames.usersTable);

        // Act: no exception may escape the handler
        const outcome = await invokeFetch(tenantId);
        front.rewrite = undefined;

        // Assess
        expect(served).toBeDefined();
        const valid = isEmployeesPage(tryParse(served).ok ? (tryParse(served) as { value: unknown }).value : undefined);
        if (!valid) {
          expect(outcome, `page 0 served: ${served?.slice(0, 300)}`).toMatchObject({
            status: 'failed',
            failure: { code: 'personio_bad_response', message: expect.stringContaining('/v1/company/employees') },
          });
          if (outcome.status !== 'failed') return;
          const run = await env.runs.get(tenantId, outcome.runId);
          expect(run).toMatchObject({ status: 'failed', employeesFetched: 0 });
          expect(run?.messagesSent ?? 0).toBe(0);
          expect(run?.failure).toEqual(outcome.failure);
          expect(await queueDepth(env)).toBe(0);
          expect(outcome.failure.message.length).toBeLessThan(500);
          expectNothingLeaked([outcome.failure.message, JSON.stringify(run)], canary, index);
          await drainQueue(false);
          expect(await scanTable(localNames.usersTable)).toEqual(usersBefore);
        } else {
          // A valid page 0: the fetch completes, and the run with it once the worker has the messages.
          expect(outcome, `page 0 served: ${served?.slice(0, 300)}`).toMatchObject({ status: 'fetched' });
          if (outcome.status !== 'fetched') return;
          if (untouched) expect(outcome.employeesFetched).toBe(sim.employees().length);
          await drainQueue(true);
          const report = await env.handlers.connect(httpEvent('GET', `/tenants/${tenantId}/personio/imports/${outcome.runId}`));
          expect(JSON.parse(report.body ?? '{}')).toMatchObject({ runId: outcome.runId, status: 'completed', employeesFetched: outcome.employeesFetched });
          if (untouched) {
            const imported = new Set((await env.users.list(tenantId)).map((u) => u.personioId));
            const withEmail = sim.employees().filter((e) => expectedUser(e)['email'] !== null);
            expect(withEmail.length).toBeGreaterThan(0);
            expect(withEmail.filter((e) => !imported.has(e.id)).map((e) => e.id)).toEqual([]);
          }
        }
      }),
      // The untouched page first, so the valid direction is always exercised.
      { numRuns: 30, examples: [[(page: string) => page, 'canaryuntouchedpage']] },
    );
  });

  it('fails the run when a later page is bad, and no employee of that page lands in the users table', async () => {
    const canaries = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split('')), minLength: 12, maxLength: 12 }).map((s) => `canary${s}`);
    await fc.assert(
      fc.asyncProperty(breaks, canaries, async (broken, canary) => {
        // Prepare: page 0 is the simulator's, every later page is broken and carries canary employees
        const index = turn++ % TENANTS.length;
        const tenantId = TENANTS[index]!;
        const firstId = nextCanaryId;
        nextCanaryId += 1_000;
        front.rewrite = (offset, real) => {
          if (offset === 0) return undefined;
          const page = withCanary(real, canary, firstId);
          return broken(page, JSON.stringify(page));
        };

        // Act
        const outcome = await invokeFetch(tenantId);
        front.rewrite = undefined;
        // Whatever the fetch did send is processed by the real worker, as the event source mapping would.
        await drainQueue(true);

        // Assess
        expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'personio_bad_response' } });
        if (outcome.status !== 'failed') return;
        const run = await env.runs.get(tenantId, outcome.runId);
        expect(run?.status).toBe('failed');
        expect(outcome.failure.message.length).toBeLessThan(500);
        const users = await env.users.list(tenantId);
        expect(users.filter((u) => u.personioId >= firstId && u.personioId < firstId + 1_000)).toEqual([]);
        expectNothingLeaked([outcome.failure.message, JSON.stringify(run), JSON.stringify(users)], canary, index);
      }),
      { numRuns: 20 },
    );
  });
});
