import { createHash } from 'node:crypto';

/**
 * The id of a user the import creates: a name-based UUID of tenant and Personio id, so every delivery
 * of an employee derives the same one.
 */
export function personioUserId(tenantId: string, personioId: number): string {
  const hash = createHash('sha1').update(`dado:${tenantId}:personio:${personioId}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
