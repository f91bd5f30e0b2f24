/**
 * Handing a port over to a replacement server without a gap. Node 20 has
 * no SO_REUSEPORT, so two servers cannot listen on one port at once; the
 * old one instead stops listening (the new one, waiting with its model
 * warmed, binds within milliseconds) but keeps serving the connections it
 * has, so clients with keep-alive connections see no failure at all; once
 * the new server answers on the port, the old one closes its connections
 * and the clients reconnect to the new one.
 */
import { connect, Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';

/** True when something accepts a TCP connection on host:port. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(200, () => done(false));
  });
}

/**
 * Stops `server` listening while its open connections keep working, then
 * waits until another server answers on the port or `ms` passes. Returns
 * whether a replacement took the port.
 */
export async function handOverPort(server: HttpServer, host: string, port: number, ms: number): Promise<boolean> {
  // net.Server's close stops listening only; http.Server's would also close idle keep-alive connections.
  Server.prototype.close.call(server);
  const probeHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await answers(probeHost, port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}
