import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fdCount } from '../../src/bench/soak/growth.ts';
import { fdKinds } from '../../src/bench/soak/procs.ts';
import { defaultProfile } from '../../src/domain/profile.ts';
import { MediaWorkerPool, spareMediaWorkers } from '../../src/media/media-worker-pool.ts';
import { MediaWorker } from '../../src/media/media-worker.ts';
import { warmUpPipelines } from '../../src/media/pipeline/warm-up.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';
import { MEDIA_NICENESS } from '../../src/support/yield-to-node.ts';
import { probeMedia } from '../support/ffprobe.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test('the warm-up covers every kind of recording and each input codec', () => {
  const { parseOnly, run } = warmUpPipelines();
  const all = parseOnly.join('\n');
  for (const element of [
    'x264enc',
    'voaacenc',
    'lamemp3enc',
    'mp4mux',
    'id3v2mux',
    'compositor',
    'audiomixer',
    'rtpjitterbuffer',
    'rtph264depay',
    'rtpvp8depay',
    'rtpopusdepay',
    'avdec_h264',
    'vp8dec',
    'opusdec',
    'hlssink2',
    'flvmux',
  ])
    assert.ok(all.includes(element), `${element} is not warmed up`);
  assert.match(run, /textoverlay/);
  assert.match(run, /num-buffers=1/, 'the run pipeline ends by itself');
});

test('spare count: default, bounds and a clear error', () => {
  assert.equal(spareMediaWorkers({}), 4);
  assert.equal(spareMediaWorkers({ TAPEDECK_SPARE_MEDIA_WORKERS: '0' }), 0);
  assert.equal(spareMediaWorkers({ TAPEDECK_SPARE_MEDIA_WORKERS: '16' }), 16);
  for (const bad of ['17', '-1', '1.5', 'many'])
    assert.throws(
      () => spareMediaWorkers({ TAPEDECK_SPARE_MEDIA_WORKERS: bad }),
      /TAPEDECK_SPARE_MEDIA_WORKERS must be a whole number from 0 to 16/,
    );
});

test(
  'a warmed-up worker records; warm-up once a recording runs is refused',
  { timeout: 60_000 },
  async () => {
    const out = await tempDir('warm-up');
    dirs.push(out);
    const worker = new MediaWorker();
    try {
      await worker.ready;
      const pid = worker.pid;
      assert.ok(pid !== undefined);
      assertNiceness(pid, MEDIA_NICENESS.starting);
      const openFds = (p: number) => fdCount(fdKinds(p));
      const loaded = openFds(pid);
      const loadedKinds = fdKinds(pid);
      const { ms } = await worker.warmUp();
      assert.ok(ms > 0);
      // The warm-up's pipelines are gone once it is done, descriptors and all: a spare's count
      // does not drop later, at whatever moment V8 happens to collect them (they held 11). What
      // stays is what a first pipeline makes once per process: the system clock's wake-up socket
      // pair and a wake-up eventfd.
      const kept = 3;
      // Polled with a generous deadline: what is asserted is where the count ends, not how soon.
      const settle = async (target: number) => {
        const deadline = Date.now() + 15_000;
        while (openFds(pid) > target && Date.now() < deadline) await sleep(100);
        return openFds(pid);
      };
      const first = await settle(loaded + kept);
      assert.ok(
        first <= loaded + kept,
        `descriptors after the warm-up: ${JSON.stringify(fdKinds(pid))}, loaded: ${JSON.stringify(loadedKinds)}`,
      );
      // A second warm-up leaves nothing more behind.
      await worker.warmUp();
      assert.ok((await settle(first)) <= first, 'descriptors after a second warm-up');
      await worker.start({
        kind: 'host',
        recordingId: 'warm',
        outDir: out,
        profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 2 },
        inputs: [syntheticHost(1)],
      });
      assertNiceness(pid, MEDIA_NICENESS.running);
      await assert.rejects(worker.warmUp(), /warm-up comes before a recording starts/);
      await new Promise((r) => setTimeout(r, 2_500));
      await worker.stop();
    } finally {
      await worker.close(2_000);
    }
    const files = (await readdir(out)).filter((f) => f.endsWith('.mp4')).sort();
    assert.ok(files.length >= 1, files.join(', '));
    const info = await probeMedia(`${out}/${files[0]}`);
    assert.equal(info.video?.width, 640);
  },
);

/**
 * A media worker yields to the node: its own niceness, and its scheduling group's where the kernel
 * groups processes by session (each worker has a session of its own).
 */
function assertNiceness(pid: number, nice: number): void {
  assert.equal(getPriority(pid), nice, 'the worker process niceness');
  const group = autogroupOf(pid);
  if (group === null)
    console.log('# no /proc/PID/autogroup here: only the process niceness is checked');
  else assert.match(group, new RegExp(`nice ${nice}$`), `its autogroup: ${group}`);
}

function autogroupOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** True when the worker had already loaded: its ready promise settles before any I/O turn. */
async function readyNow(w: MediaWorker): Promise<boolean> {
  return Promise.race([
    w.ready.then(() => true),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ]);
}

test(
  'the pool hands out loaded spares and replaces them after a take',
  { timeout: 60_000 },
  async () => {
    const pool = new MediaWorkerPool(2, { refillDelayMs: 200, warmUpDelayMs: 60_000 });
    const taken: MediaWorker[] = [];
    try {
      await pool.loaded();
      taken.push(pool.take(), pool.take());
      for (const w of taken) assert.equal(await readyNow(w), true, 'a spare was loaded');
      // More takes than spares: a new process, not loaded yet.
      const extra = pool.take();
      taken.push(extra);
      assert.equal(await readyNow(extra), false);
      await pool.settled();
      const next = pool.take();
      taken.push(next);
      assert.equal(await readyNow(next), true, 'the refill loaded a new spare');
      assert.equal(
        new Set(taken.map((w) => w.pid)).size,
        taken.length,
        'each take is its own process',
      );
    } finally {
      await Promise.allSettled(taken.map((w) => w.close(2_000)));
      await pool.close();
    }
    // settled() after close() does not hang.
    await pool.settled();
  },
);
