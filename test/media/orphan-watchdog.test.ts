import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseProcStat } from '../../src/bench/process-usage.ts';
import { ROOT } from '../support/tapedeck.ts';

const WATCHDOG = pathToFileURL(`${ROOT}/src/media/worker/orphan-watchdog.ts`).href;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test(
  'a worker whose main thread is stuck dies after its parent is killed, once the grace is over',
  { timeout: 30_000 },
  async (t) => {
    // The child blocks its main thread for good, as a pipeline stuck in EOS does: no handler of
    // its own can run, only the watchdog thread.
    const child = `
      import { killWhenOrphaned } from ${JSON.stringify(WATCHDOG)};
      killWhenOrphaned(1500);
      console.log(process.pid);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    `;
    const parent = `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ${JSON.stringify(child)}], { stdio: ['ignore', 'pipe', 'inherit'] });
      c.stdout.once('data', (d) => console.log(String(d).trim()));
      setInterval(() => undefined, 1000);
    `;
    const p = spawn(process.execPath, ['-e', parent], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pid = 0;
    // Whatever fails, neither process may outlive the test.
    t.after(() => {
      p.kill('SIGKILL');
      if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    });
    pid = await new Promise<number>((resolve, reject) => {
      p.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      p.once('exit', () => reject(new Error('parent ended before the child started')));
    });
    assert.ok(pid > 0 && alive(pid));
    await sleep(1_000);
    assert.ok(alive(pid), 'the child lives while its parent does');
    p.kill('SIGKILL');
    const killedAt = Date.now();
    await sleep(1_000);
    assert.ok(alive(pid), 'the child is given its grace');
    while (alive(pid) && Date.now() - killedAt < 15_000) await sleep(200);
    assert.ok(!alive(pid), 'the orphaned child still ran 15 s after its parent was killed');
  },
);

/** The watchdog process of a child: the perl process whose parent it is. */
function watcherOf(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { comm, ppid } = parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      if (comm === 'perl' && ppid === pid) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const wakeUps = (pid: number): number =>
  Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

test(
  'the watchdog sleeps while the parent lives and leaves as soon as the worker is gone',
  { timeout: 30_000 },
  async (t) => {
    const child = `
      import { killWhenOrphaned } from ${JSON.stringify(WATCHDOG)};
      killWhenOrphaned(1500);
      console.log(process.pid);
      setInterval(() => undefined, 1000);
    `;
    const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => c.kill('SIGKILL'));
    const pid = await new Promise<number>((resolve, reject) => {
      c.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      c.once('exit', () => reject(new Error('the child ended before it started')));
    });
    let watcher: number | undefined;
    for (let i = 0; i < 50 && watcher === undefined; i++) {
      watcher = watcherOf(pid);
      if (watcher === undefined) await sleep(100);
    }
    assert.ok(watcher, 'the child has a watchdog');
    t.after(() => {
      if (alive(watcher)) process.kill(watcher, 'SIGKILL');
    });
    await sleep(500); // past its start-up
    const before = wakeUps(watcher);
    await sleep(3_500);
    // Looking once a second, as it did, made 3 or more.
    assert.ok(
      wakeUps(watcher) - before < 2,
      `the watchdog woke ${wakeUps(watcher) - before} times in 3.5 s`,
    );
    c.kill('SIGKILL');
    const killedAt = Date.now();
    while (alive(watcher) && Date.now() - killedAt < 5_000) await sleep(50);
    assert.ok(!alive(watcher), 'the watchdog outlived its worker by 5 s');
  },
);
