import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { spawnTracked, stopTracked } from './children.ts';

const TIMEOUT = { timeout: 60_000 };
const childrenModule = fileURLToPath(new URL('./children.ts', import.meta.url));

// Zombies still answer kill(pid, 0); a reaped or zombie process is gone for our purposes.
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.trim();
}

test('stopTracked escalates to SIGKILL and kills the whole group', TIMEOUT, async () => {
  // The ignored TERM is inherited by the backgrounded sleep.
  const child = spawnTracked('sh', ['-c', 'trap "" TERM; sleep 30 & echo $!; wait'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const sleepPid = Number(await firstLine(child.stdout!));
  assert.ok(isRunning(sleepPid));
  const t0 = Date.now();
  const status = await stopTracked(child, 'SIGTERM', 300);
  assert.equal(status.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 5000);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!isRunning(sleepPid), `sleep ${sleepPid} survived`);
});

for (const how of ['exit', 'SIGTERM', 'SIGINT'] as const) {
  test(`tracked children die when the test process gets ${how}`, TIMEOUT, async () => {
    const script = `
      import { spawnTracked } from ${JSON.stringify(childrenModule)};
      const c = spawnTracked('sleep', ['30'], { stdio: 'ignore' });
      console.log(c.pid);
      ${how === 'exit' ? 'process.exit(3);' : 'setInterval(() => {}, 1000);'}
    `;
    const host = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const sleepPid = Number(await firstLine(host.stdout!));
    assert.ok(sleepPid > 0);
    if (how !== 'exit') host.kill(how);
    const [code, signal] = (await once(host, 'exit')) as [number | null, NodeJS.Signals | null];
    if (how === 'exit') assert.equal(code, 3);
    else assert.equal(signal, how);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!isRunning(sleepPid), `sleep ${sleepPid} survived`);
  });
}
