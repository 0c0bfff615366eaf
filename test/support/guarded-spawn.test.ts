import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { parseProcStat } from '../../src/bench/process-usage.ts';
import { guardedSpawn } from '../../src/support/guarded-spawn.ts';

const T = { timeout: 60_000 };
const MODULE = fileURLToPath(new URL('../../src/support/guarded-spawn.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes whose process group is `pgid`, from /proc. */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8')).pgrp === pgid)
        pids.push(Number(name));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids;
}

test("the command's output and exit status come through the guard", T, async () => {
  const child = guardedSpawn('sh', ['-c', 'echo hello; exit 3'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(out, 'hello\n');
  assert.equal(code, 3);
});

test('a TERM to the group ends the command, and the guard with it', T, async () => {
  const child = guardedSpawn('sleep', ['600'], { stdio: 'ignore' });
  await sleep(300);
  const members = groupMembers(child.pid!);
  assert.equal(members.length, 3, `guard, command and watcher: ${members.join(' ')}`);
  process.kill(-child.pid!, 'SIGTERM');
  await once(child, 'exit');
  for (let i = 0; i < 50 && groupMembers(child.pid!).length > 0; i++) await sleep(100);
  assert.deepEqual(groupMembers(child.pid!), [], 'nothing of the group is left');
});

test('while the command runs, the guard starts no process', T, async () => {
  const child = guardedSpawn('sleep', ['600'], { stdio: 'ignore' });
  try {
    await sleep(300);
    const seen = new Set<number>();
    // The guard used to look for its owner once a second with a `sleep 1` of its own.
    for (let i = 0; i < 35; i++) {
      for (const pid of groupMembers(child.pid!)) seen.add(pid);
      await sleep(100);
    }
    assert.equal(seen.size, 3, `processes seen in the group over 3.5 s: ${[...seen].join(' ')}`);
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
  }
});

test('a SIGKILLed owner leaves no command behind', T, async () => {
  // The owner prints the command's pid (the command writes it itself, then becomes sleep).
  const owner = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { guardedSpawn } from ${JSON.stringify(MODULE)};
       guardedSpawn('sh', ['-c', 'echo $$; exec sleep 600'], { stdio: ['ignore', 'inherit', 'ignore'] });
       setInterval(() => undefined, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let text = '';
  owner.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  for (let i = 0; i < 300 && !/\d+\n/.test(text); i++) await sleep(100);
  const pid = Number(/(\d+)\n/.exec(text)?.[1]);
  assert.ok(pid > 0 && alive(pid), `the command runs (owner printed "${text}")`);
  owner.kill('SIGKILL');
  await once(owner, 'exit');
  // TERM at once; a command that ignored it would be killed 5 s later.
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  assert.ok(!alive(pid), 'the command ended with its owner');
});
