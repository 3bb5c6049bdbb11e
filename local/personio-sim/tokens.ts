import { randomBytes } from 'node:crypto';
import { recordSimToken } from './issued.js';

/**
 * Personio v1 tokens today: one per credential pair, stable for its lifetime and reusable in parallel (NOTES.md §1.1).
 * Expiry uses the TTL in force, so lowering `tokenTtlSeconds` expires older tokens at once (and `0` makes every token
 * dead on arrival), which is what tests of "token expired mid-run" need. An expired token is forgotten, so raising the
 * TTL again does not bring it back.
 */
export class TokenRegistry {
  private readonly byToken = new Map<string, { clientId: string; issuedAt: number }>();
  private readonly byClient = new Map<string, string>();

  /** The credential's live token, or a new one. `expiresIn` counts down in whole seconds. */
  issue(clientId: string, now: number, ttlSeconds: number): { token: string; expiresIn: number; minted: boolean } {
    const current = this.byClient.get(clientId);
    if (current !== undefined && this.resolve(current, now, ttlSeconds) !== undefined) {
      const issuedAt = this.byToken.get(current)?.issuedAt ?? now;
      return { token: current, expiresIn: Math.ceil((issuedAt + ttlSeconds * 1000 - now) / 1000), minted: false };
    }
    const token = `papi-${randomBytes(24).toString('base64url')}`;
    this.byToken.set(token, { clientId, issuedAt: now });
    this.byClient.set(clientId, token);
    recordSimToken(token);
    return { token, expiresIn: ttlSeconds, minted: true };
  }

  /** The client id behind a live token; undefined for unknown, expired or revoked tokens. */
  resolve(token: string, now: number, ttlSeconds: number): string | undefined {
    const entry = this.byToken.get(token);
    if (!entry) return undefined;
    if (entry.issuedAt + ttlSeconds * 1000 > now) return entry.clientId;
    this.forget(token, entry.clientId);
    return undefined;
  }

  /** Forgets every token already expired under `ttlSeconds`; call when the TTL changes. */
  sweep(now: number, ttlSeconds: number): void {
    for (const token of [...this.byToken.keys()]) this.resolve(token, now, ttlSeconds);
  }

  revokeAll(): void {
    this.byToken.clear();
    this.byClient.clear();
  }

  private forget(token: string, clientId: string): void {
    this.byToken.delete(token);
    if (this.byClient.get(clientId) === token) this.byClient.delete(clientId);
  }
}
