import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
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
