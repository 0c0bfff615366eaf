import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

test(
  'a port lost inside the server, reported before a long panic stack, starts it again',
  { timeout: 60_000 },
  async () => {
    const dir = await tempDir('dev-server-panic');
    // What the CLI does when a port it picked for an inner service is taken before it binds:
    // the cause, then a stack of a few hundred lines, exit 2.
    const cli = join(dir, 'temporal');
    await writeFile(
      cli,
      [
        '#!/bin/sh',
        `echo '{"level":"fatal","msg":"Failed to start gRPC listener","error":"listen tcp 127.0.0.1:41235: bind: address already in use"}'`,
        "echo 'panic: fx start failed' >&2",
        'i=0; while [ $i -lt 400 ]; do echo "reflect.Value.call(...) /x/value.go:586 +0xf0c $i" >&2; i=$((i+1)); done',
        'exit 2',
      ].join('\n'),
      { mode: 0o755 },
    );
    try {
      const logs: string[] = [];
      const failed = await startDevServer({
        dataDir: dir,
        uiPort: false,
        executable: cli,
        onLog: (l) => logs.push(l),
      }).then(
        () => assert.fail('a server that exits cannot start'),
        (err: Error) => err,
      );
      assert.equal(logs.filter((l) => /starting it again$/.test(l)).length, 2);
      // The cause stays in the error, ahead of the stack's last lines.
      assert.match(failed.message, /exited \(2\) while starting\n.*address already in use/);
      assert.match(failed.message, /\+0xf0c 399/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
