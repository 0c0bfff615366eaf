import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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

  it('counts what a process holds, by kind', { timeout: 10_000 }, async () => {
    // A child of known descriptors: counting this process instead raced its own runner and loader,
    // which open and close files at any moment. The child closes whatever it inherited beyond
    // 0 to 3, then holds /dev/null on 0 to 2, the IPC socket on 3 and a file each on 5 and 6.
    const script =
      'for p in /proc/$$/fd/*; do n=${p##*/}; case $n in 0|1|2|3) ;; *) eval "exec $n<&-" 2>/dev/null ;; esac; done; ' +
      'exec 5</etc/hostname 6</etc/hostname; exec sleep 30';
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      const pid = child.pid!;
      // Until bash has exec'd sleep, its descriptors are still being set up.
      const execd = () => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep');
      for (let i = 0; i < 100 && !execd(); i++) await new Promise((r) => setTimeout(r, 20));
      const kinds = fdKinds(pid);
      assert.deepEqual(kinds, { socket: 1, pipe: 0, file: 5, other: 0 });
      assert.equal(fdCount(kinds), readdirSync(`/proc/${pid}/fd`).length);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reads nothing for a process that has ended', { timeout: 5_000 }, () => {
    assert.deepEqual(fdKinds(2 ** 22 + 1), { socket: 0, pipe: 0, file: 0, other: 0 });
  });
});
