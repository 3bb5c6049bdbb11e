import type { WebhookDispatcher } from './delivery.js';
import { createdEvents, deletedEvents, updateEvents } from './events.js';
import { type EmployeeStore, StoreInputError } from './store.js';
import { WEBHOOK_EVENTS } from './webhook-registry.js';

/**
 * Every change to the employee set made through the simulator's API (and so its /__sim/ controls), with the webhook
 * events it fires handed to the dispatcher. The change is done when the call returns; deliveries follow on their own.
 */
export class EmployeeEvents {
  constructor(
    private readonly store: EmployeeStore,
    private readonly dispatcher: WebhookDispatcher,
  ) {}

  add(count: number): number[] {
    const ids = this.store.add(count);
    this.dispatcher.emit(ids.flatMap(createdEvents));
    return ids;
  }

  remove(ids: readonly number[]): void {
    // Only employees that existed are deleted, so only they fire events.
    const existing = [...new Set(ids)].filter((id) => this.store.values(id) !== undefined);
    this.store.remove(ids);
    this.dispatcher.emit(existing.flatMap(deletedEvents));
  }

  update(id: number, changes: Record<string, unknown>): void {
    const before = this.store.values(id);
    this.store.update(id, changes);
    const after = this.store.values(id);
    if (before && after) this.dispatcher.emit(updateEvents(id, Object.keys(changes), before, after));
  }

  /** Personio's termination as the API sees it: status inactive and a termination date (default today, UTC). */
  terminate(id: number, date?: string): void {
    const day = date ?? new Date().toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day))) throw new StoreInputError('date must be YYYY-MM-DD', 400);
    this.update(id, { status: 'inactive', termination_date: `${day}T00:00:00+00:00` });
  }

  /** An event no data change fires here (employment.started comes on the start date); the employee may be gone. */
  emit(eventName: string, employeeId: number): void {
    if (!WEBHOOK_EVENTS.includes(eventName)) throw new StoreInputError(`unknown event ${eventName}`, 400);
    if (!Number.isSafeInteger(employeeId) || employeeId <= 0) throw new StoreInputError('employee id must be a positive integer', 400);
    this.dispatcher.emit([{ event_name: eventName, employeeId }]);
  }
}
