import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a connection stores of its webhook token (`webhooks.tokenHash`): the token itself stays in the tenant's secret. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh token for one tenant's webhook: 256 random bits, URL-safe (Personio sends it back verbatim). */
export function newWebhookToken(): string {
  return randomBytes(32).toString('base64url');
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Stands in for a missing hash, so an unknown tenant costs the same hash and comparison as a known one. */
const DUMMY_DIGEST = createHash('sha256').update('dado-webhook-no-token', 'utf8').digest();

/**
 * Whether the presented Authorization value is the registered token. Both sides are sha256 digests (32 bytes), so the
 * comparison takes the same time whatever was presented or stored, and `timingSafeEqual` never sees unequal lengths.
 * Without a stored hash (unknown tenant, no active webhook) or a presented value, the same work is done and the answer
 * is no.
 */
export function tokenMatches(presented: string | undefined, storedHash: string | null | undefined): boolean {
  const stored = typeof storedHash === 'string' && SHA256_HEX.test(storedHash) ? Buffer.from(storedHash, 'hex') : undefined;
  const digest = createHash('sha256')
    .update(presented ?? '', 'utf8')
    .digest();
  const equal = timingSafeEqual(digest, stored ?? DUMMY_DIGEST);
  return equal && stored !== undefined && presented !== undefined && presented !== '';
}
