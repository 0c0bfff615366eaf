import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { BATCH_NICENESS } from '../../src/support/batch-spawn.ts';
import { MeasuringProcess, PipelineFailure } from '../../src/moderation/measuring-process.ts';
import { nameAndNice } from '../support/proc-stat.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** 48,000 mono float samples of a tone to a file: a whole pipeline that ends by itself. */
const toneTo = (file: string) =>
  `audiotestsrc num-buffers=48 samplesperbuffer=1000 ! audio/x-raw,format=F32LE,channels=1,rate=48000 ! filesink location="${file}"`;

const niceOf = (pid: number) => nameAndNice(readFileSync(`/proc/${pid}/stat`, 'utf8')).nice;

test(
  'one process runs pipeline after pipeline at batch niceness, and a failed or killed one costs only its own',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measuring-');
    dirs.push(dir);
    const m = new MeasuringProcess();
    try {
      const cpu = await m.run(toneTo(join(dir, 'a.f32')), 30_000);
      assert.equal((await stat(join(dir, 'a.f32'))).size, 48_000 * 4);
      assert.ok(cpu > 0 && cpu < 30, `cpu ${cpu}`);
      const pid = m.pid();
      assert.ok(pid);
      const own = niceOf(process.pid);
      assert.equal(niceOf(pid), Math.min(19, own + BATCH_NICENESS));
      // Queued: all three run, one after another, in the same process.
      await Promise.all(['b', 'c', 'd'].map((n) => m.run(toneTo(join(dir, `${n}.f32`)), 30_000)));
      assert.equal(m.pid(), pid);
      assert.equal((await readFile(join(dir, 'd.f32'))).length, 48_000 * 4);

      // An error in the pipeline is its own: the process goes on.
      await assert.rejects(
        m.run(`filesrc location="${join(dir, 'missing.mp4')}" ! qtdemux ! fakesink`, 30_000),
        (err: Error) =>
          err instanceof PipelineFailure && /not found|No such file/i.test(err.message),
      );
      await assert.rejects(m.run('nosuchelement ! fakesink', 30_000), PipelineFailure);
      // One that asks for a stream its source lacks says so, where it would wait for the timeout.
      await assert.rejects(
        m.run(
          'videotestsrc num-buffers=5 ! decodebin name=d d. ! audio/x-raw ! fakesink d. ! video/x-raw ! fakesink',
          30_000,
        ),
        (err: Error) =>
          err instanceof PipelineFailure &&
          /^Delayed linking failed\. \(the file lacks a stream the decode needs\)$/.test(
            err.message,
          ),
      );
      await m.run(toneTo(join(dir, 'e.f32')), 30_000);
      assert.equal(m.pid(), pid);

      // One that never ends is cut off, and so is its process; the next one gets a new process.
      await assert.rejects(
        m.run('audiotestsrc is-live=true ! fakesink', 1_500),
        /measuring took longer than 1500 ms/,
      );
      await m.run(toneTo(join(dir, 'f.f32')), 30_000);
      const second = m.pid();
      assert.ok(second && second !== pid);

      // A process that dies under a pipeline (a decoder crash) fails that pipeline only.
      const killed = m.run('audiotestsrc is-live=true ! fakesink', 30_000);
      await new Promise((r) => setTimeout(r, 500));
      process.kill(second, 'SIGKILL');
      await assert.rejects(killed, /measuring process ended \(SIGKILL\)/);
      await m.run(toneTo(join(dir, 'g.f32')), 30_000);
      assert.notEqual(m.pid(), second);
    } finally {
      m.close();
    }
  },
);

test('an idle measuring process does not keep the node running', { timeout: 60_000 }, async () => {
  const dir = await tempDir('measuring-exit-');
  dirs.push(dir);
  const script = `
      import { sharedMeasuringProcess } from ${JSON.stringify(new URL('../../src/moderation/measuring-process.ts', import.meta.url).href)};
      await sharedMeasuringProcess().run(${JSON.stringify(toneTo(join(dir, 'x.f32')))}, 30000);
      console.log('measured in', sharedMeasuringProcess().pid());
    `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { timeout: 45_000 },
  );
  const pid = Number(/measured in (\d+)/.exec(stdout)?.[1]);
  assert.ok(pid > 0, stdout);
  // The node ended by itself, and took its measuring process with it.
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`measuring process ${pid} outlived its node`);
});
