import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';

// Binds a Hono app to a plain node:http listener, shared by the metrics and
// control listeners.

export interface BoundListener {
  /** The bound port; differs from the requested one when that was 0. */
  readonly port: number;
  /** Stops accepting connections and resolves once open requests have finished. */
  close(): Promise<void>;
}

// Hono's Env type parameter varies per app; the listener only needs `fetch`.
type AnyHono = Pick<Hono<never>, 'fetch'>;

/**
 * Listens on `host`:`port` and resolves once bound. A bind failure rejects
 * with the address and the system error code, so a start error names the port.
 */
export function listenApp(
  app: AnyHono,
  name: string,
  host: string,
  port: number,
): Promise<BoundListener> {
  // overrideGlobalObjects: false keeps Node's own Request and Response
  // globals, which the rest of the process (undici, tests) also uses.
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;

  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const message = `cannot listen on ${host}:${port} for the ${name} listener: ${error.code ?? error.message}`;
      reject(new Error(message, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve({ port: (server.address() as AddressInfo).port, close: () => closeServer(server) });
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    server.closeIdleConnections();
  });
}
