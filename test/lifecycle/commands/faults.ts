import { localNames } from '../../../local/runner/environment.js';
import type { DynamoFaultRule } from '../../helpers/faulty-dynamodb.js';
import type { Model } from '../model.js';
import type { Tenant } from '../world.js';
import { Step } from './step.js';

/** DynamoDB faults on the items concurrent functions share (../../helpers/faulty-dynamodb.ts). */

export const FAULT_TARGETS = [
  'run-conflict',
  'run-throttle',
  'connection-conflict',
  'connection-throttle',
  'link-conflict',
  'user-throttle',
  'users-unprocessed',
] as const;
export type FaultTarget = (typeof FAULT_TARGETS)[number];

export class InjectFault extends Step {
  constructor(
    readonly target: FaultTarget,
    readonly count: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => m.faultRules < 4;
  toString = () => `Fault(${this.target} ×${this.count})`;
  protected async step(_m: Model, t: Tenant) {
    armFault(t, this.target, this.count);
  }
}

/** Adds the rules of a fault on `target` for the next `count` matching calls of the handlers (never the simulation's own). */
export function armFault(t: Tenant, target: FaultTarget, count: number): void {
  const when = () => t.world.invocations.current() !== undefined;
  const base = { count, when, name: target };
  const writes = ['PutItem', 'UpdateItem', 'DeleteItem'];
  const rules: DynamoFaultRule[] = {
    'run-conflict': [
      { ...base, table: localNames.runsTable, skPrefix: 'run#', command: 'TransactWriteItems', fault: 'transactionConflict' as const },
      { ...base, table: localNames.runsTable, skPrefix: 'run#', command: writes, fault: 'transactionConflictException' as const },
    ],
    'run-throttle': [{ ...base, table: localNames.runsTable, command: [...writes, 'TransactWriteItems'], fault: 'provisionedThroughputExceeded' as const }],
    'connection-conflict': [{ ...base, table: localNames.connectionsTable, command: writes, fault: 'transactionConflictException' as const }],
    'connection-throttle': [{ ...base, table: localNames.connectionsTable, fault: 'throttling' as const }],
    'link-conflict': [
      { ...base, table: localNames.usersTable, skPrefix: 'personio#', command: 'TransactWriteItems', fault: 'transactionConflict' as const },
      { ...base, table: localNames.usersTable, skPrefix: 'personio#', command: writes, fault: 'transactionConflictException' as const },
    ],
    'user-throttle': [{ ...base, table: localNames.usersTable, command: writes, fault: 'provisionedThroughputExceeded' as const }],
    'users-unprocessed': [{ ...base, table: localNames.usersTable, command: 'BatchGetItem', fault: 'unprocessedKeys' as const }],
  }[target];
  for (const rule of rules) t.world.faults.add(rule);
}
