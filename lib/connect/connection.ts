import { ConnectionError } from '../tenants/connections.js';
import type { ConnectDeps } from './deps.js';
import { ConnectError } from './errors.js';
import type { ConnectionRecord } from './settings.js';

/** The tenant's connection, or the error that says why there is none to act on. */
export async function requireConnection(
  deps: Pick<ConnectDeps, 'connections'>,
  tenantId: string,
  options: { allowDisconnected?: boolean } = {},
): Promise<ConnectionRecord> {
  const connection = (await deps.connections.get(tenantId)) as ConnectionRecord | undefined;
  if (!connection) throw new ConnectError('not_connected', `Tenant ${tenantId} has not connected Personio. Connect with PUT /tenants/${tenantId}/personio.`);
  if (connection.status === 'disconnected' && !options.allowDisconnected) {
    throw new ConnectError('disconnected', `Tenant ${tenantId} is disconnected from Personio. Connect again with PUT /tenants/${tenantId}/personio.`);
  }
  return connection;
}

/**
 * Changes only these settings of the connection as it was read: a concurrent change (another admin's save, a
 * reconnect, a disconnect) makes this answer 409 `conflict` instead of silently writing back a stale copy.
 */
export async function updateConnection(
  deps: Pick<ConnectDeps, 'connections' | 'now'>,
  read: ConnectionRecord,
  changes: Partial<Pick<ConnectionRecord, 'mapping' | 'readableAttributes'>>,
): Promise<void> {
  try {
    await deps.connections.updateSettings(read, changes, deps.now());
  } catch (error) {
    if (error instanceof ConnectionError) throw new ConnectError('conflict', `${error.message} Reload the connection and try again.`);
    throw error;
  }
}
