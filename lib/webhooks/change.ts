import * as z from 'zod';
import { tenantIdSchema } from '../tenants/tenant-id.js';

/** The Personio webhook events the receiver acts on: those connect registers. */
export const handledEvents = [
  'person.created',
  'person.updated',
  'person.deleted',
  'employment.created',
  'employment.updated',
  'employment.deleted',
  'employment.started',
  'employment.terminated',
] as const;

export type HandledEvent = (typeof handledEvents)[number];

export const isHandledEvent = (name: string): name is HandledEvent => (handledEvents as readonly string[]).includes(name);

const personIdSchema = z.number().int().positive().refine(Number.isSafeInteger, 'a safe integer');

/**
 * One change on the changes queue (receiver → refresh): which employee of which tenant to re-read, and when Personio
 * says it changed. No field values: deliveries carry none, and the refresh reads the employee from Personio.
 */
export const changeMessageSchema = z
  .object({
    v: z.literal(1),
    tenantId: tenantIdSchema,
    event: z.enum(handledEvents),
    personId: personIdSchema,
    occurredAt: z.iso.datetime({ offset: true }),
    receivedAt: z.iso.datetime({ offset: true }),
  })
  .strict();

export type ChangeMessage = z.infer<typeof changeMessageSchema>;

export function changeMessage(change: Omit<ChangeMessage, 'v' | 'receivedAt'>, receivedAt: Date): ChangeMessage {
  return changeMessageSchema.parse({ v: 1, ...change, receivedAt: receivedAt.toISOString() });
}

/** A Personio id as a positive safe integer, whether Personio sent it as a number or as decimal digits. */
function idOf(value: unknown): number | undefined {
  const id = typeof value === 'number' ? value : typeof value === 'string' && /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : undefined;
  return personIdSchema.safeParse(id).success ? id : undefined;
}

const asObject = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/**
 * The person a delivery is about. Personio documents no payload per event (docs/personio-webhooks.md §3), so every
 * event is read entity-keyed first: `payload.person.id`, then `payload.person_id`, and only for person events the
 * payload's own `id`; an employment event's own `id` is the employment's and is never taken for the person. A v2
 * person id is the v1 employee id the refresh re-reads. Undefined when the event is not one we handle or no usable id
 * is found: nothing to act on.
 */
export function personIdOf(eventName: string, payload: Record<string, unknown>): number | undefined {
  if (!isHandledEvent(eventName)) return undefined;
  const id = idOf(asObject(payload['person'])?.['id']) ?? idOf(payload['person_id']);
  if (id !== undefined || !eventName.startsWith('person.')) return id;
  return idOf(payload['id']);
}
