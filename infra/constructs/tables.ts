import { RemovalPolicy } from 'aws-cdk-lib';
import { type Attribute, AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { runKeys, tableDefinition, type TableKind } from '../../lib/storage/tables.js';

/** A table and the names of its indexes, so grants can name each index instead of `index/*`. */
export interface ProductTable {
  readonly kind: TableKind;
  readonly table: TableV2;
  readonly indexNames: readonly string[];
}

const attributeTypes = { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY } as const;

/**
 * Builds the table's keys and indexes from `lib/storage/tables.ts`, the definition the local stack creates its tables
 * from, so the deployed key layout cannot drift from the one the code and its tests use.
 */
function shapeOf(kind: TableKind) {
  const definition = tableDefinition(kind, kind);
  const types = new Map((definition.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const attribute = (name: string | undefined): Attribute => {
    const type = name === undefined ? undefined : types.get(name);
    if (name === undefined || type === undefined) throw new Error(`${kind}: key attribute ${name} has no definition`);
    return { name, type: attributeTypes[type] };
  };
  const keys = (schema: typeof definition.KeySchema) => ({
    partitionKey: attribute(schema?.find((k) => k.KeyType === 'HASH')?.AttributeName),
    ...(schema?.some((k) => k.KeyType === 'RANGE') ? { sortKey: attribute(schema.find((k) => k.KeyType === 'RANGE')?.AttributeName) } : {}),
  });
  const globalSecondaryIndexes = (definition.GlobalSecondaryIndexes ?? []).map((index) => {
    if (!index.IndexName || index.Projection?.ProjectionType !== 'KEYS_ONLY') {
      throw new Error(`${kind}: only named KEYS_ONLY indexes are mapped; extend shapeOf() for ${index.IndexName}`);
    }
    return { indexName: index.IndexName, ...keys(index.KeySchema), projectionType: ProjectionType.KEYS_ONLY };
  });
  return { ...keys(definition.KeySchema), globalSecondaryIndexes };
}

/**
 * The product's four tables: on-demand (imports are bursty: hourly spikes, idle in between), point-in-time
 * recovery on all of them.
 *
 * Removal policies:
 * - users: RETAIN plus deletion protection. It is the product's output, and Dado reads it; losing it is not
 *   recoverable by re-importing (links to pre-existing Dado users, deactivations, user ids would all change).
 * - connections: RETAIN. It is the only record of which tenants are connected, their field mappings and which
 *   secrets and schedules exist (those live outside the stack); after a teardown it is what cleanup needs.
 * - runs: DESTROY. Run records and message markers are operational history, rebuilt by the next import; nothing
 *   outside the stack refers to them.
 * - audit: RETAIN plus deletion protection. Who changed a tenant's credentials, mapping or schedule, who approved a
 *   mass deactivation: the record an incident review or a customer's question needs, long after the stack changed.
 */
export class Tables extends Construct {
  readonly users: ProductTable;
  readonly connections: ProductTable;
  readonly runs: ProductTable;
  readonly audit: ProductTable;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.users = this.table('users', 'Users', { removalPolicy: RemovalPolicy.RETAIN, deletionProtection: true });
    this.connections = this.table('connections', 'Connections', { removalPolicy: RemovalPolicy.RETAIN, deletionProtection: false });
    this.runs = this.table('runs', 'Runs', { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false, timeToLiveAttribute: runKeys.ttl });
    this.audit = this.table('audit', 'Audit', { removalPolicy: RemovalPolicy.RETAIN, deletionProtection: true });
  }

  get all(): readonly ProductTable[] {
    return [this.users, this.connections, this.runs, this.audit];
  }

  private table(kind: TableKind, id: string, props: { removalPolicy: RemovalPolicy; deletionProtection: boolean; timeToLiveAttribute?: string }): ProductTable {
    const shape = shapeOf(kind);
    const table = new TableV2(this, id, {
      ...shape,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...props,
    });
    return { kind, table, indexNames: shape.globalSecondaryIndexes.map((i) => i.indexName) };
  }
}
