import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/*
 * Ports that were free on 127.0.0.1 a moment ago. Each is released before it is returned, so
 * another process can take it first; whoever binds it next fails loudly rather than sharing it,
 * and that small risk buys never hard-coding a port.
 */

/** A free loopback UDP port, for a recorder's udpsrc that binds it a moment later. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** A free loopback TCP port for a server that listens on it a moment later. */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}
