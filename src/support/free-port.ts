import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/*
 * Ports that were free on 127.0.0.1 a moment ago. Each is released before it is returned, so
 * another process can take it first; whoever binds it next fails loudly rather than sharing it,
 * and that small risk buys never hard-coding a port.
 */

/** Ports a UDP port is picked from, below where the kernel hands out ports to bind(0). */
const UDP_PICK_FROM = 10_000;

/** The first port of the kernel's ephemeral range (Linux); 32768 when it cannot be read. */
let ephemeralFrom: number | undefined;
function ephemeralLow(): number {
  if (ephemeralFrom !== undefined) return ephemeralFrom;
  let low = NaN;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch {
    // Not Linux, or no /proc: the usual start.
  }
  return (ephemeralFrom = Number.isInteger(low) && low > 0 ? low : 32_768);
}

async function bindsUdp(port: number): Promise<number | null> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', resolve);
    });
    return socket.address().port;
  } catch {
    return null;
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/**
 * A free loopback UDP port, for a recorder's udpsrc that binds it a moment later. Picked below the
 * ephemeral range. A port the kernel hands out for bind(0) can go to the next socket that asks
 * for any port (ICE, a client's connection) before the recorder binds it: once in CI a host's
 * recording failed with "Address already in use" and started a try later.
 */
export async function freeUdpPort(): Promise<number> {
  const high = ephemeralLow();
  for (let i = 0; high > UDP_PICK_FROM && i < 50; i++) {
    const port = await bindsUdp(UDP_PICK_FROM + Math.floor(Math.random() * (high - UDP_PICK_FROM)));
    if (port !== null) return port;
  }
  const port = await bindsUdp(0);
  if (port === null) throw new Error('no free UDP port on 127.0.0.1');
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
