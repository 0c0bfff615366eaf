import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { InotifyWatcher, type FileDone } from '../../src/delivery/inotify-watcher.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { ROOT, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function watchersOf(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `^inotifywait .*${dir}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

test(
  'close-write and moved-to are reported, also in folders made after the start',
  { timeout: 30_000 },
  async () => {
    const dir = await tempDir('watch');
    dirs.push(dir);
    const w = new InotifyWatcher(dir);
    const seen: FileDone[] = [];
    w.on('done', (d) => seen.push(d));
    await w.start();
    try {
      await mkdir(join(dir, 'rec'));
      await sleep(200);
      await writeFile(join(dir, 'rec', 'a.mp4'), 'x');
      await writeFile(join(dir, '.b.tmp'), 'y');
      await rename(join(dir, '.b.tmp'), join(dir, 'rec', 'b.mp4'));
      for (let i = 0; i < 50 && seen.length < 3; i++) await sleep(100);
    } finally {
      await w.close();
    }
    const got = seen.map((d) => `${d.how} ${d.path.slice(dir.length)}`);
    assert.ok(got.includes('close-write /rec/a.mp4'), got.join(', '));
    assert.ok(got.includes('moved-to /rec/b.mp4'), got.join(', '));
    assert.deepEqual(watchersOf(dir), [], 'close() ends inotifywait');
  },
);

test('inotifywait never outlives an owner killed with SIGKILL', { timeout: 30_000 }, async () => {
  const dir = await tempDir('orphan');
  dirs.push(dir);
  const script = `import { InotifyWatcher } from ${JSON.stringify(join(ROOT, 'src/delivery/inotify-watcher.ts'))};
const w = new InotifyWatcher(${JSON.stringify(dir)}); await w.start(); console.log('ready'); setInterval(() => {}, 1000);`;
  const child = spawnTracked(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error('the owner exited before its watcher was ready')));
    });
    assert.equal(watchersOf(dir).length, 1);
    process.kill(child.pid!, 'SIGKILL');
    for (let i = 0; i < 30 && watchersOf(dir).length > 0; i++) await sleep(100);
    assert.deepEqual(watchersOf(dir), [], 'the watcher went with its owner');
  } finally {
    await stopTracked(child, 'SIGKILL');
  }
});
