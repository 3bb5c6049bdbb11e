import { Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';

/**
 * Asks the OS for a free TCP port. There is a short window between closing the probe and the real
 * server binding the port; callers that spawn a process treat a bind failure there as retryable.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const probe = createServer();
  const port = await listenOn(probe, 0, host);
  await closeServer(probe);
  return port;
}

/**
 * True when nothing listens on the port. The wildcard address is the default because binding it
 * collides with a listener on any single address, so one probe covers 127.0.0.1 and 0.0.0.0 alike.
 */
export async function isPortFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  const probe = createServer();
  try {
    await listenOn(probe, port, host);
  } catch (error) {
    if (isAddressInUse(error)) return false;
    throw error;
  } finally {
    if (probe.listening) await closeServer(probe);
  }
  return true;
}

export function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** `server.listen` that rejects on a bind error instead of emitting an unhandled 'error' event. */
export function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('server has no TCP address'));
        return;
      }
      resolve(address.port);
    });
  });
}

/** Closes a server and drops kept-alive sockets, which would otherwise hold `close` open for seconds. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    // http.Server keeps idle keep-alive sockets; net.Server has no such method.
    if (server instanceof HttpServer) server.closeAllConnections();
  });
}
