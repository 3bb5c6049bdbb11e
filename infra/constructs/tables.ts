import { RemovalPolicy } from 'aws-cdk-lib';
import { type Attribute, AttributeType, Billing, ProjectionType, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { runKeys, tableDefinition, type TableKind } from '../../lib/storage/tables.js';
import { deny, exceptFor, exceptForLater } from './fences.js';

/** A table and the names of its indexes, so grants can name each index instead of `index/*`. */
export interface ProductTable {
  readonly kind: TableKind;
  readonly table: TableV2;
  readonly indexNames: readonly string[];
  /** The key the table is encrypted with: whoever reads or writes it needs the key, through DynamoDB. */
  readonly key: IKey;
  /** Lets one of the stack's roles past the table's resource policy; its IAM policy says what it may do there. */
  admit(role: IRole): void;
}

/**
 * The item-level actions (the data plane) the tables' resource policies fence in. Transactions are authorized per item
 * as these actions; PartiQL has its own. Control-plane actions (describe, update, tag, the resource policy itself,
 * point-in-time recovery, backups and restores) stay out: the deployer, AWS Backup and on-call restores need them, and
 * a restore makes a new table, not a read of this one.
 */
export const tableDataActions = {
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:PartiQLSelect'],
  write: [
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:PartiQLInsert',
    'dynamodb:PartiQLUpdate',
    'dynamodb:PartiQLDelete',
  ],
  // A full copy into an S3 bucket of the caller's choosing, where neither this policy nor the key protects it.
  export: ['dynamodb:ExportTableToPointInTime'],
} as const;

/** The tables Dado's own services may read directly (the stage's readerRoles): the imported users and who is connected. */
export const readerTables: readonly TableKind[] = ['users', 'connections'];

interface TablesProps {
  /** The key of every table (`Keys.data`). */
  key: IKey;
  /** Dado's services that read `readerTables` directly (read actions only). */
  readerRoles: readonly string[];
  /** Roles for emergencies: any item action, and exports, on every table. */
  breakGlassRoles: readonly string[];
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
  // The change stream (lib/storage/tables.ts changeStream), where the definition has one.
  const stream = definition.StreamSpecification?.StreamEnabled
    ? { dynamoStream: StreamViewType[definition.StreamSpecification.StreamViewType ?? 'NEW_AND_OLD_IMAGES'] }
    : {};
  return { ...keys(definition.KeySchema), globalSecondaryIndexes, ...stream };
}

/**
 * The product's four tables: on-demand (imports are bursty: hourly spikes, idle in between), point-in-time
 * recovery on all of them, encrypted with the stage's data key. The runs table is encrypted and fenced like the others:
 * it holds Personio and user ids and a held run's exact pending deactivations, which an approval applies as stored.
 *
 * Each table's resource policy denies the item actions to every principal but the stack's roles that use the table
 * (admitted by `bindTable`, whose IAM policy then says what each may do), the stage's reader roles (read actions, on
 * `readerTables` only) and break-glass roles, whatever their IAM policies allow (an administrator's `dynamodb:*`
 * included; see fences.ts).
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
  private readonly props: TablesProps;

  constructor(scope: Construct, id: string, props: TablesProps) {
    super(scope, id);
    this.props = props;
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
      encryption: TableEncryptionV2.customerManagedKey(this.props.key),
      ...props,
    });
    const admitted = new Set<IRole>();
    this.fence(table, kind, admitted);
    return {
      kind,
      table,
      indexNames: shape.globalSecondaryIndexes.map((i) => i.indexName),
      key: this.props.key,
      admit: (role) => void admitted.add(role),
    };
  }

  /** The table's resource policy; the admitted roles are read when the template is written, after every binding. */
  private fence(table: TableV2, kind: TableKind, admitted: ReadonlySet<IRole>): void {
    const { readerRoles, breakGlassRoles } = this.props;
    const roles = () => [...admitted].map((role) => role.roleArn);
    const readers = readerTables.includes(kind) ? readerRoles : [];
    table.node.addValidation({
      validate: () => (admitted.size === 0 ? [`No role of the stack uses the ${kind} table: bind one (infra/grants.ts bindTable) or drop the table.`] : []),
    });
    // `*` is the table itself (and its indexes): a policy cannot name the ARN of the table it is part of.
    table.addToResourcePolicy(
      deny(
        'OnlyTheProductWrites',
        tableDataActions.write,
        ['*'],
        exceptForLater(() => [...roles(), ...breakGlassRoles]),
      ),
    );
    table.addToResourcePolicy(
      deny(
        'OnlyTheProductAndReadersRead',
        tableDataActions.read,
        ['*'],
        exceptForLater(() => [...roles(), ...readers, ...breakGlassRoles]),
      ),
    );
    table.addToResourcePolicy(deny('OnlyBreakGlassExports', tableDataActions.export, ['*'], exceptFor(breakGlassRoles)));
  }
}
