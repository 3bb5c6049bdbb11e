import type { Model, RunModel } from './model.js';
import { blocks, InvariantViolation, isFinal, reportedFailures, userJson, type Item, type Observation } from './observe.js';
import type { ApiAnswer } from './world.js';

/**
 * The invariants (issue 11, "Proof: a lifecycle simulation"), each from Personio's state and the model's timeline:
 *
 *  1. employed → active: no user whose employee is in Personio with a non-inactive status is inactive once a final run
 *     saw the employee (and, the other way round, Personio's `inactive` makes the user inactive);
 *  2. one user each: every employee a final run saw has exactly one user, unless the latest such run reported it
 *     failed with a reason (an email reason only where Personio's data really leaves no address: none, or one another
 *     active employee or still-active user holds); never two users with one Personio id; the user carries
 *     Personio's current email (and an integer beyond 2^53 exactly, as a string);
 *  3. nothing stuck: at most one run holds the tenant at a time; once the clock passed every lease and the sweeper
 *     (or the next fetch) came, no run is left unfinished;
 *  4. approval: a held run's approval deactivates exactly what it answers, only users it had pending and nobody
 *     touched since, only on a connected tenant, and not once a newer run wrote users; a refused approval changes
 *     nobody;
 *  5. counters: a finished run's report equals what landed in the table;
 *  6. one address, one active user (issue 12), unless Personio itself lists two active employees with it.
 * Plus: a leaver's user, once deactivated, is never active again (older data never reverses it); with faults cleared
 * and every message delivered, the next import finishes (completed or held); a disconnected tenant stays
 * disconnected, and a connected one whose credential Personio accepts stays `connected`.
 */

const violation = (invariant: string, detail: string) => new InvariantViolation(invariant, detail);

/** The custom integer attribute every tenant maps (world.ts CUSTOM_FIELDS), and its field. */
const BADGE_ATTRIBUTE = 'dynamic_9500';
const BADGE_FIELD = 'badge';

/** Final runs that can have seen anyone: completed or held (a failed run promises nothing). */
function finishedRuns(model: Model, obs: Observation): { run: RunModel; item: Item }[] {
  const out: { run: RunModel; item: Item }[] = [];
  for (const item of obs.runs) {
    const status = item['status'];
    if (status !== 'completed' && status !== 'held') continue;
    const run = model.runs.get(String(item['runId']));
    if (run) out.push({ run, item });
  }
  return out;
}

const usersOf = (obs: Observation) => {
  const byPersonioId = new Map<number, Item[]>();
  for (const u of obs.users) {
    if (typeof u['personioId'] !== 'number') continue;
    byPersonioId.set(u['personioId'], [...(byPersonioId.get(u['personioId']) ?? []), u]);
  }
  return byPersonioId;
};

const lower = (email: unknown) => (typeof email === 'string' ? email.toLowerCase() : '');

export function checkAfterStep(model: Model, obs: Observation): InvariantViolation[] {
  const found: InvariantViolation[] = [];
  const finished = finishedRuns(model, obs);
  const byPersonioId = usersOf(obs);
  // Active users by address: issue 12's one address, one active user (checked below), and who may keep an address.
  const activeUsersByEmail = new Map<string, unknown[]>();
  // Dado's own users (no Personio id) hold addresses too.
  for (const u of obs.users) {
    if (u['active'] !== true || !u['emailKey']) continue;
    const key = String(u['emailKey']);
    activeUsersByEmail.set(key, [...(activeUsersByEmail.get(key) ?? []), u['personioId'] ?? `(Dado's own user ${u['userId']})`]);
  }
  const activeByEmail = new Map<string, number[]>();
  for (const e of obs.employees) {
    if (e.status === 'inactive' || !e.email) continue;
    activeByEmail.set(lower(e.email), [...(activeByEmail.get(lower(e.email)) ?? []), e.id]);
  }

  for (const [personioId, users] of byPersonioId) {
    if (users.length > 1)
      found.push(violation('inv2 one user each', `Personio employee ${personioId} has ${users.length} users (${users.map((u) => u['userId']).join(', ')})`));
  }

  for (const e of obs.employees) {
    const seenBy = finished.filter(({ run }) => model.saw(run, e.id));
    if (seenBy.length === 0) continue;
    const latest = seenBy.reduce((a, b) => (b.run.fetchStart > a.run.fetchStart ? b : a));
    const users = byPersonioId.get(e.id) ?? [];
    const employed = e.status !== 'inactive';
    const runs = seenBy.map(({ run }) => run.runId).join(', ');

    const reported = reportedFailures(latest.item).get(e.id);
    for (const u of users) {
      if (employed && u['active'] !== true) {
        found.push(
          violation(
            'inv1 employed but inactive',
            `employee ${e.id} is ${e.status} in Personio, run(s) ${runs} saw it, yet its user ${u['userId']} is inactive${u['deactivationReason'] ? ` (${u['deactivationReason']})` : ''}`,
          ),
        );
      }
      // An employee the latest run could not import (reported) keeps its user as it was.
      if (!employed && u['active'] !== false && reported === undefined) {
        found.push(
          violation('inv1 status decides active', `employee ${e.id} is inactive in Personio, run(s) ${runs} saw it, yet its user ${u['userId']} is active`),
        );
      }
    }
    const badge = (e.attributes[BADGE_ATTRIBUTE] as { value?: unknown } | undefined)?.value;
    const stored = (users[0]?.['customFields'] as Item | undefined)?.[BADGE_FIELD];
    if (users.length === 1 && reported === undefined && typeof badge === 'string' && badge.length > 15 && String(stored) !== badge) {
      found.push(
        violation(
          'inv2 user carries Personio’s data',
          `employee ${e.id}'s ${BADGE_FIELD} (an integer beyond 2^53, ${badge.length} digits) is not stored exactly: ${typeof stored === 'string' ? 'another string' : typeof stored}`,
        ),
      );
    }

    if (users.length === 0) {
      const reason = reportedFailures(latest.item).get(e.id);
      const emailTakenOk = (() => {
        const email = lower(e.email);
        if (!email) return true;
        if ((activeByEmail.get(email) ?? []).some((id) => id !== e.id)) return true;
        // A user still active with it now (its employee's departure held for approval) holds it too.
        if ((activeUsersByEmail.get(email) ?? []).some((id) => id !== e.id)) return true;
        return (latest.run.activeEmailsAtStart.get(email) ?? []).some((id) => id !== e.id);
      })();
      const excused = reason !== undefined && (!/email/i.test(reason) || emailTakenOk);
      if (!excused) {
        found.push(
          violation(
            'inv2 one user each',
            `employee ${e.id} (${e.status}) has no user though run(s) ${runs} saw it; the latest, ${latest.run.runId}, ${reason ? `reported "${reason}", which Personio's data does not explain (no other active employee or active user holds its address)` : 'did not report it as failed'}`,
          ),
        );
      }
    } else if (
      users.length === 1 &&
      employed &&
      e.email &&
      (activeByEmail.get(lower(e.email)) ?? []).length === 1 &&
      // An address another active user still holds (its employee's departure held for approval) is not this user's yet.
      !(activeUsersByEmail.get(lower(e.email)) ?? []).some((id) => id !== e.id) &&
      lower(users[0]?.['email']) !== lower(e.email)
    ) {
      found.push(
        violation(
          'inv2 user carries Personio’s data',
          `employee ${e.id}'s user has an older email than Personio's current one, though run(s) ${runs} saw it (older data over newer)`,
        ),
      );
    }
  }

  for (const [personioId, users] of byPersonioId) {
    const e = model.employees.get(personioId);
    if (!e || e.removedAt === undefined) continue;
    for (const u of users) {
      if (u['active'] === false) model.leaversDeactivated.add(personioId);
      else if (model.leaversDeactivated.has(personioId)) {
        found.push(
          violation(
            'inv1 leaver stays inactive',
            `employee ${personioId} left Personio and its user ${u['userId']} was deactivated, yet it is active again (older data reversed the deactivation)`,
          ),
        );
      }
    }
  }

  // Two active users with one address only where Personio itself lists two active employees with it (the README's one
  // gap: two new ones created at once by different workers).
  for (const [email, ids] of activeUsersByEmail) {
    if (ids.length > 1 && (activeByEmail.get(email) ?? []).length < 2) {
      found.push(violation('inv6 one address, one active user', `the active users of ${ids.join(' and ')} share one address`));
    }
  }

  for (const u of obs.users) {
    if (!model.dadoUsers.has(String(u['userId'])) || typeof u['personioId'] === 'number') continue;
    if (u['active'] !== true) {
      found.push(
        violation('inv1 a Dado user is not the import’s', `user ${u['userId']}, created in Dado and never linked to Personio, was deactivated by an import`),
      );
    }
    const twin = obs.users.find(
      (other) => other !== u && typeof other['personioId'] === 'number' && lower(other['email']) !== '' && lower(other['email']) === lower(u['email']),
    );
    if (twin) {
      found.push(
        violation(
          'inv2 one user each',
          `employee ${twin['personioId']} got a new user ${twin['userId']} though Dado's own user ${u['userId']} has its address (link it, do not duplicate)`,
        ),
      );
    }
  }

  // Delta runs (webhooks) never hold the tenant: they run beside a full run by design.
  const blocking = obs.runs.filter((r) => blocks(r['status']) && r['mode'] !== 'delta');
  if (blocking.length > 1) {
    found.push(
      violation(
        'inv3 one run at a time',
        `${blocking.length} runs hold the tenant at once: ${blocking.map((r) => `${r['runId']} (${r['status']})`).join(', ')}`,
      ),
    );
  }

  if (model.connection === 'disconnected' && obs.connection && obs.connection['status'] !== 'disconnected') {
    found.push(violation('connection state', `the tenant was disconnected, but its connection now says "${obs.connection['status']}"`));
  }
  // Personio never refuses this tenant's credential: nothing may mark it otherwise.
  if (model.connection === 'connected' && obs.connection && obs.connection['status'] !== 'connected') {
    found.push(
      violation('connection state', `the tenant is connected with a credential Personio accepts, but its connection says "${obs.connection['status']}"`),
    );
  }
  return found;
}

/** Invariant 3: after every lease and the sweeper's period have passed and someone came, nothing is left unfinished. */
export function checkNothingStuck(obs: Observation, startedBefore: number): InvariantViolation[] {
  return obs.runs
    .filter((r) => !isFinal(r['status']) && Date.parse(String(r['startedAt'])) < startedBefore)
    .map((r) =>
      violation(
        'inv3 nothing stuck',
        `run ${r['runId']} is still ${r['status']} ${Math.round((obs.now - Date.parse(String(r['startedAt']))) / 60_000)} simulated minutes after it started, past every lease and a sweep`,
      ),
    );
}

/**
 * Invariant 3, "imports keep running": with faults cleared and every message delivered, the run the next fetch
 * started (at `nextFetchAt` or later) finished: completed or held, not failed and not left running.
 */
export function checkImportsRun(obs: Observation, nextFetchAt: number): InvariantViolation[] {
  const runs = obs.runs.filter((r) => Date.parse(String(r['startedAt'])) >= nextFetchAt - 1_000 && r['mode'] !== 'delta');
  if (runs.length === 0) return [violation('inv3 imports keep running', 'the next fetch, with everything settled and nothing failing, started no run')];
  const newest = runs.reduce((a, b) => (String(b['startedAt']) > String(a['startedAt']) ? b : a));
  if (newest['status'] === 'completed' || newest['status'] === 'held') return [];
  const failure = newest['failure'] as Item | undefined;
  return [
    violation(
      'inv3 imports keep running',
      `the next run ${newest['runId']}, with faults cleared and every message delivered, ended ${newest['status']}${failure ? ` (${failure['code']}: ${String(failure['message']).slice(0, 160)})` : ''}`,
    ),
  ];
}

/**
 * Invariant 5 for a run that just finished (completed or held, not by an approval), from the two readings around the
 * action that finished it: its counters against the table.
 */
export function checkCounters(run: RunModel, item: Item, deactivatedHere: Item[] | undefined): InvariantViolation[] {
  const found: InvariantViolation[] = [];
  const n = (k: string) => Number(item[k] ?? 0);
  const sum = n('created') + n('updated') + n('unchanged') + n('failed');
  // Employees the fetch could not hand on (too large for a message) are reported apart, whether or not counted as failed.
  const rejected = Number(item['rejectedCount'] ?? (Array.isArray(item['rejected']) ? item['rejected'].length : 0));
  if (sum !== n('employeesFetched') && sum + rejected !== n('employeesFetched')) {
    found.push(
      violation(
        'inv5 counters',
        `run ${run.runId} (${item['status']}) reports created ${n('created')} + updated ${n('updated')} + unchanged ${n('unchanged')} + failed ${n('failed')} = ${sum} employees, but employeesFetched ${n('employeesFetched')}`,
      ),
    );
  }
  if (run.created.exact && n('created') !== run.created.count) {
    found.push(
      violation(
        'inv5 counters',
        `run ${run.runId} reports created ${n('created')}, but ${run.created.count} users appeared in the table while only its messages were processed`,
      ),
    );
  }
  if (deactivatedHere && n('deactivated') !== deactivatedHere.length) {
    found.push(
      violation(
        'inv5 counters',
        `run ${run.runId} reports deactivated ${n('deactivated')}, but ${deactivatedHere.length} users were deactivated when it finished`,
      ),
    );
  }
  return found;
}

export interface ApprovalCheck {
  run: RunModel;
  statusBefore: string | undefined;
  answer: ApiAnswer;
  before: Observation;
  after: Observation;
  connected: boolean;
  /** Newer runs (fetch started after this run's) that wrote users. */
  newerWriters: string[];
}

/** Invariant 4. */
export function checkApproval(model: Model, a: ApprovalCheck): InvariantViolation[] {
  const found: InvariantViolation[] = [];
  const previous = new Map(a.before.users.map((u) => [u['userId'], u]));
  const deactivated = a.after.users.filter((u) => previous.get(u['userId'])?.['active'] === true && u['active'] === false);
  const what = `approving run ${a.run.runId} (${a.statusBefore ?? 'unknown'})`;
  // A function that died (500 thrown, 503 timed out) may have applied part of the approval: that part must still be
  // allowed; it is finished later (the run stays approving until then).
  const died = a.answer.status >= 500;
  if (a.answer.status !== 200 && !died) {
    if (deactivated.length > 0)
      found.push(
        violation(
          'inv4 approval',
          `${what} was refused (${a.answer.status} ${a.answer.body?.error?.code ?? ''}) yet deactivated ${deactivated.length} user(s)`,
        ),
      );
    return found;
  }
  const how = died ? `died (${a.answer.status}) after it deactivated ${deactivated.length} user(s)` : 'was accepted';
  if (died && deactivated.length === 0) return found;
  if (!a.connected) found.push(violation('inv4 approval', `${what} ${how} on a disconnected tenant and deactivated ${deactivated.length} user(s)`));
  // A stalled approval (approving, its lease expired) may be taken up again and finished.
  const resumed = a.statusBefore === 'approving';
  if (a.statusBefore !== 'held' && !resumed) found.push(violation('inv4 approval', `${what} ${how} though the run was not held`));
  if (a.newerWriters.length > 0)
    found.push(violation('inv4 approval', `${what} ${how} though newer run(s) ${a.newerWriters.join(', ')} wrote users since (superseded: must answer 409)`));
  const answered = Number(a.answer.body?.deactivated ?? Number.NaN);
  // A resumed approval answers all it deactivated, the part before its predecessor died included.
  if (!died && !resumed && answered !== deactivated.length)
    found.push(violation('inv4 approval', `${what} answered deactivated ${a.answer.body?.deactivated}, but ${deactivated.length} user(s) were deactivated`));
  const held = a.run.held;
  for (const u of deactivated) {
    const id = u['personioId'];
    if (typeof id === 'number' && model.saw(a.run, id))
      found.push(violation('inv4 approval', `${what} deactivated user ${u['userId']} of employee ${id}, whom the run itself saw`));
    if (!held) continue;
    // The users table's key: always a string.
    const userId = u['userId'] as string;
    if (!held.activeUserIds.has(userId))
      found.push(violation('inv4 approval', `${what} deactivated user ${u['userId']}, who was not active when the run was held (not on its pending list)`));
    const atHold = held.users.get(userId);
    const beforeApproval = previous.get(u['userId']);
    if (atHold !== undefined && beforeApproval && atHold !== userJson(beforeApproval)) {
      found.push(violation('inv4 approval', `${what} deactivated user ${u['userId']}, whom an import touched after the run was held`));
    }
  }
  return found;
}
