import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { startDevServer } from '../../src/orchestration/temporal/dev-server.ts';
import { tempDir } from '../support/tapedeck.ts';

test(
  'the dev server is started again when a port it needs is taken, a bounded number of times',
  { timeout: 180_000 },
  async () => {
    const dir = await tempDir('dev-server');
    // Another program on the port: it takes connections and drops them.
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const logs: string[] = [];
      await assert.rejects(
        startDevServer({ dataDir: dir, port, uiPort: false, onLog: (l) => logs.push(l) }),
        /exited .* while starting[\s\S]*address already in use/,
      );
      assert.equal(
        logs.filter((l) => /starting it again$/.test(l)).length,
        2,
        logs.filter((l) => /again|in use/.test(l)).join('\n'),
      );
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      // The same port once it is free: the retries left nothing behind that holds it.
      const dev = await startDevServer({ dataDir: dir, port, uiPort: false });
      assert.equal(dev.address, `127.0.0.1:${port}`);
      await dev.stop();
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
