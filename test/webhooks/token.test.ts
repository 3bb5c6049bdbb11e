import * as crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handledEvents, personIdOf } from '../../lib/webhooks/change.js';
import { dedupeSk } from '../../lib/webhooks/dedupe.js';
import { hashToken, newWebhookToken, tokenMatches } from '../../lib/webhooks/token.js';

// The real comparison, observed: every call's arguments are recorded.
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const compared = vi.mocked(crypto.timingSafeEqual);

describe('webhook tokens', () => {
  beforeEach(() => {
    compared.mockClear();
  });

  it('are 32 random bytes, base64url, different every time', () => {
    // Act
    const tokens = Array.from({ length: 50 }, () => newWebhookToken());

    // Assess
    for (const token of tokens) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('are stored as their sha256 hex', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('match only the token whose hash is stored', () => {
    // Prepare
    const token = newWebhookToken();
    const stored = hashToken(token);

    // Assess
    expect(tokenMatches(token, stored)).toBe(true);
    expect(tokenMatches(`${token} `, stored)).toBe(false);
    expect(tokenMatches(newWebhookToken(), stored)).toBe(false);
    expect(tokenMatches(undefined, stored)).toBe(false);
    expect(tokenMatches('', hashToken(''))).toBe(false);
    expect(tokenMatches(token, undefined)).toBe(false);
    expect(tokenMatches(token, null)).toBe(false);
    expect(tokenMatches(token, stored.toUpperCase())).toBe(false);
  });

  it.each([
    ['the right token', (t: string) => [t, hashToken(t)] as const],
    ['a wrong token', (t: string) => [`${t}x`, hashToken(t)] as const],
    ['a long wrong token', (t: string) => [t.repeat(100), hashToken(t)] as const],
    ['no token', (t: string) => [undefined, hashToken(t)] as const],
    ['no stored hash (unknown tenant)', (t: string) => [t, undefined] as const],
    ['a stored value that is no hash', (t: string) => [t, 'not-a-hash'] as const],
  ])('compare %s with timingSafeEqual, once, over two 32-byte digests', (_what, make) => {
    // Prepare
    const [presented, stored] = make(newWebhookToken());

    // Act
    tokenMatches(presented, stored);

    // Assess: the same work whatever was presented or stored: one constant-time comparison of equal lengths
    expect(compared).toHaveBeenCalledTimes(1);
    const [a, b] = compared.mock.calls[0] as [Buffer, Buffer];
    expect([a.length, b.length]).toEqual([32, 32]);
  });
});

describe('the person a delivery is about', () => {
  it.each([
    // Entity-keyed, as the research expects for every event (docs/personio-webhooks.md §3)
    ['person.updated', { person: { id: '12' } }, 12],
    ['person.created', { person: { id: 12 } }, 12],
    ['employment.updated', { id: '5', person: { id: '12' } }, 12],
    ['employment.started', { id: 5, person: { id: 12 } }, 12],
    ['employment.updated', { employment: { id: '5' }, person: { id: '12' } }, 12],
    // person_id, for every event
    ['person.updated', { person_id: '12' }, 12],
    ['employment.deleted', { id: 5, person_id: '12' }, 12],
    ['employment.terminated', { person_id: 12 }, 12],
    // The payload's own id: a person event's only, and only when neither of the above is there
    ['person.updated', { id: '12' }, 12],
    ['person.created', { id: 12 }, 12],
    ['person.deleted', { id: '99', person: { id: '12' } }, 12],
    ['person.updated', { id: '99', person_id: 12 }, 12],
    ['person.updated', { id: '12', person: { id: '-3' } }, 12],
    // An employment event's own id is the employment's: never taken for the person
    ['employment.created', { id: '5' }, undefined],
    ['employment.updated', { id: 5 }, undefined],
    ['employment.terminated', { id: '5', person: {} }, undefined],
    ['employment.deleted', { id: '5', person_id: null }, undefined],
    ['employment.started', { id: '5', person: '12' }, undefined],
    ['person.updated', { id: '012' }, undefined],
    ['person.updated', { id: '1.5' }, undefined],
    ['person.updated', { id: 1.5 }, undefined],
    ['person.updated', { id: 0 }, undefined],
    ['person.updated', { id: '9007199254740992' }, undefined],
    ['person.updated', { id: null }, undefined],
    ['absence.created', { id: '12' }, undefined],
  ] as const)('%s %j → %s', (event, payload, expected) => {
    expect(personIdOf(event, payload)).toBe(expected);
  });

  it('handles exactly the events connect registers', () => {
    expect([...handledEvents].sort()).toEqual(
      [
        'employment.created',
        'employment.deleted',
        'employment.started',
        'employment.terminated',
        'employment.updated',
        'person.created',
        'person.deleted',
        'person.updated',
      ].sort(),
    );
  });
});

describe('dedupe keys', () => {
  it('differ by event, person and occurrence, and carry nothing but a digest', () => {
    // Prepare
    const base = { event: 'person.updated', personId: 12, occurredAt: '2026-11-30T10:15:00Z' };

    // Act
    const keys = [
      dedupeSk(base),
      dedupeSk({ ...base, event: 'person.created' }),
      dedupeSk({ ...base, personId: 13 }),
      dedupeSk({ ...base, occurredAt: '2026-11-30T10:15:01Z' }),
    ];

    // Assess
    expect(new Set(keys).size).toBe(4);
    expect(dedupeSk({ ...base })).toBe(keys[0]);
    for (const key of keys) expect(key).toMatch(/^hook#[0-9a-f]{64}$/);
  });
});
