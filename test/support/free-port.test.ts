import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { freeUdpPort } from '../../src/support/free-port.ts';

test(
  'a free UDP port comes from below the ephemeral range, where bind(0) never lands, and binds',
  { timeout: 10_000 },
  async () => {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    for (let i = 0; i < 20; i++) {
      const port = await freeUdpPort();
      assert.ok(port >= 10_000 && port < low, `port ${port}, ephemeral from ${low}`);
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  },
);
