/**
 * A tenant whose stored credential Personio refused on several runs in a row is paused: its scheduled imports stop
 * calling Personio every hour (a revoked key would otherwise fail hourly forever, and fill the failure alarms with
 * one customer's decision) and try once a day instead, so a credential fixed in Personio without a reconnect is picked
 * up within a day. "Import now" always runs: an admin is trying. A run that gets past Personio's auth unpauses the
 * tenant, and so does a reconnect (ConnectionStore owns those writes and enforces these rules in their conditions).
 *
 * The connection keeps status `invalid_credentials` while paused: the status is the tenant's contract (what is wrong,
 * and connecting again is still the fix), and clients that switch on it keep working; `paused` says what Dado does
 * about it.
 */

/** How often a paused tenant's scheduled imports still try the stored credential. */
export const PAUSED_ATTEMPT_INTERVAL_MS = 24 * 60 * 60_000;

/** Stored on the connection item while the tenant is paused. */
export interface CredentialPause {
  /** When the run that reached the threshold failed. */
  since: string;
  reason: 'invalid_credentials';
  /** The last scheduled attempt with the stored credential (the pausing run's, at first): the next is a day later. */
  lastAttemptAt: string;
}

/** What the status API shows of a pause. */
export interface PauseView {
  since: string;
  reason: 'invalid_credentials';
  /** Runs in a row whose credential Personio refused. */
  failures: number;
  /** From then on, the next scheduled import tries the stored credential again. */
  nextAttemptAt: string;
}

interface PausableConnection {
  status: string;
  credentialFailures?: number;
  paused?: CredentialPause;
}

/** Runs started by the tenant's schedule (the others were asked for by someone, who is trying). */
export function isScheduledTrigger(trigger: string): boolean {
  return trigger === 'schedule' || trigger === 'schedule-rule';
}

export function nextAttemptAt(pause: CredentialPause): Date {
  return new Date(Date.parse(pause.lastAttemptAt) + PAUSED_ATTEMPT_INTERVAL_MS);
}

/** Whether a scheduled firing at `now` may try the paused tenant's credential (once a day). */
export function attemptDue(pause: CredentialPause, now: Date): boolean {
  return now.getTime() >= nextAttemptAt(pause).getTime();
}

/** The latest attempt a firing at `now` may claim the daily slot over: one older than this. */
export function attemptCutoff(now: Date): string {
  return new Date(now.getTime() - PAUSED_ATTEMPT_INTERVAL_MS).toISOString();
}

/** The pause as the status API shows it; null when the tenant is not paused (a disconnect ends a pause too). */
export function pauseView(connection: PausableConnection): PauseView | null {
  const pause = connection.paused;
  if (!pause || connection.status === 'disconnected') return null;
  return { since: pause.since, reason: pause.reason, failures: connection.credentialFailures ?? 0, nextAttemptAt: nextAttemptAt(pause).toISOString() };
}

/** What a paused tenant's admin reads: what happened, what Dado does about it, and the two ways out. */
export function pausedMessage(tenantId: string, view: PauseView): string {
  return (
    `Personio refused the stored credentials on ${view.failures} imports in a row, so scheduled imports are paused since ${view.since}: ` +
    `Dado tries the credentials once a day (next at ${view.nextAttemptAt} or later) instead of every hour. ` +
    `If the credentials were rotated or revoked in Personio, connect again with valid ones (PUT /tenants/${tenantId}/personio); that resumes imports at once. ` +
    `If they should still be valid, check them in Personio under Settings → Integrations → API credentials; ` +
    `the next daily try or an import now (POST /tenants/${tenantId}/personio/imports) picks them up and resumes the schedule.`
  );
}
