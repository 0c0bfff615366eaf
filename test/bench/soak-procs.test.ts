import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { fdCount } from '../../src/bench/soak/growth.ts';
import { fdKindOf, fdKinds } from '../../src/bench/soak/procs.ts';

describe('soak descriptor counts', () => {
  it('names what a descriptor is from its /proc link', { timeout: 5_000 }, () => {
    assert.equal(fdKindOf('socket:[81234]'), 'socket');
    assert.equal(fdKindOf('pipe:[81235]'), 'pipe');
    assert.equal(fdKindOf('/tmp/spool/a.mp4'), 'file');
    assert.equal(fdKindOf('anon_inode:[eventfd]'), 'other');
  });

  it('counts this process’s files and sockets as they open', { timeout: 5_000 }, async () => {
    const before = fdKinds(process.pid);
    const fd = openSync('/proc/self/stat', 'r');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const after = fdKinds(process.pid);
      assert.equal(after.file - before.file, 1);
      assert.ok(after.socket - before.socket >= 1, JSON.stringify({ before, after }));
      const listed = readdirSync('/proc/self/fd').length;
      assert.ok(Math.abs(fdCount(after) - listed) <= 1, 'kinds add up to the count');
    } finally {
      closeSync(fd);
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads nothing for a process that has ended', { timeout: 5_000 }, () => {
    assert.deepEqual(fdKinds(2 ** 22 + 1), { socket: 0, pipe: 0, file: 0, other: 0 });
  });
});
