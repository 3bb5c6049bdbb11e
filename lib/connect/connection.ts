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
