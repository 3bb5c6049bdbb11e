import type { UserFieldName } from '../mapping/mapping.js';
import { requireConnection, updateConnection } from './connection.js';
import type { ConnectDeps } from './deps.js';
import { readableAttributes, toAttributeView, withStoredCredentials, type AttributeView } from './personio.js';

export interface AttributesResult {
  tenantId: string;
  attributes: (AttributeView & { mappedTo: string[] })[];
  warnings: string[];
}

/**
 * The attributes the tenant's credential can read now, with labels, types and list options for the field
 * picker, and what each is mapped to. Refreshes the readable set that mappings are checked against, so an
 * attribute enabled in Personio since the connect can be mapped.
 */
export async function listAttributes(deps: ConnectDeps, tenantId: string): Promise<AttributesResult> {
  const connection = await requireConnection(deps, tenantId);
  const attributes = await withStoredCredentials(deps, tenantId, readableAttributes);
  const readable = [...new Set(attributes.map((a) => a.key))].sort();
  if (readable.join('\n') !== [...connection.readableAttributes].sort().join('\n')) {
    await updateConnection(deps, connection, { readableAttributes: readable });
  }

  const mappedTo = new Map<string, string[]>();
  const add = (source: string, target: string) => mappedTo.set(source, [...(mappedTo.get(source) ?? []), target]);
  for (const [field, source] of Object.entries(connection.mapping.fields) as [UserFieldName, string | null][]) if (source) add(source, field);
  for (const [name, source] of Object.entries(connection.mapping.customFields)) add(source, `customFields.${name}`);

  const can = new Set(readable);
  const warnings = [...mappedTo.entries()]
    .filter(([source]) => !can.has(source))
    .map(
      ([source, targets]) =>
        `${targets.join(', ')} ${targets.length > 1 ? 'are' : 'is'} mapped to ${source}, which the credential can no longer read: enable it in Personio under API credentials, or change the mapping.`,
    );
  return { tenantId, attributes: attributes.map((a) => ({ ...toAttributeView(a), mappedTo: mappedTo.get(a.key) ?? [] })), warnings };
}
