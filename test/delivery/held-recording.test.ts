import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Deliverer, type DeliveredSnippet } from '../../src/delivery/deliverer.ts';
import { FsStore } from '../../src/delivery/store/fs-store.ts';
import { defaultProfile } from '../../src/domain/profile.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';
import { LiveRecording } from '../../src/recorder/live-recording.ts';
import { decodeErrors } from '../support/ffprobe.ts';
import { tempDir } from '../support/tapedeck.ts';

// A recording that takes over a track whose old recording may still be running elsewhere is held:
// nothing of it reaches the store until the takeover is confirmed (release) or turned down
// (discard). These run real pipelines into a real spool and a file store.

const T = { timeout: 120_000 };
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function setup(name: string) {
  const root = await tempDir(name);
  dirs.push(root);
  const store = new FsStore(join(root, 'store'));
  const events: unknown[] = [];
  const delivered: DeliveredSnippet[] = [];
  const quarantined: { path: string; reason: string }[] = [];
  const make = () => {
    const d = new Deliverer({
      spoolRoot: join(root, 'spool'),
      quarantineRoot: join(root, 'quarantine'),
      store,
      outbox: { add: async (e) => void events.push(e) },
    });
    d.on('delivered', (s) => delivered.push(s));
    d.on('quarantined', (q) => quarantined.push(q));
    return d;
  };
  return { root, events, delivered, quarantined, make };
}

const spec = {
  kind: 'host' as const,
  recordingId: 'host-h1-mp4',
  profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 2 },
  inputs: [syntheticHost(1)],
};

/** Every object in the file store under the livestream, as keys. */
async function storedKeys(root: string): Promise<string[]> {
  const base = join(root, 'store');
  const files = await readdir(join(base, 'show-1'), { recursive: true }).catch(
    () => [] as string[],
  );
  return files
    .filter((f) => /\.(mp4|mp3)$/.test(f))
    .map((f) => `show-1/${f}`)
    .sort();
}

/** Waits until the recording has closed at least `n` snippets. */
async function closed(rec: LiveRecording, n: number): Promise<void> {
  for (let i = 0; i < 300 && rec.snippets.length < n; i++) await sleep(100);
  assert.ok(rec.snippets.length >= n, `only ${rec.snippets.length} snippets closed`);
}

test('a held recording stores nothing until released, then everything in order', T, async () => {
  const { root, events, delivered, make } = await setup('held-release');
  const deliverer = make();
  await deliverer.start();
  const rec = await LiveRecording.start({ livestreamId: 'show-1', spec, deliverer, hold: true });
  try {
    await closed(rec, 2);
    await deliverer.drain(5_000);
    assert.deepEqual(await storedKeys(root), [], 'held: nothing stored');
    assert.equal(events.length, 0, 'held: nothing announced');
    await rec.release();
    await rec.stop();
    assert.ok(await deliverer.settled(rec.dir, 30_000), 'all delivered after release');
  } finally {
    await rec.stop().catch(() => undefined);
    await deliverer.close();
  }
  const keys = await storedKeys(root);
  assert.ok(keys.length >= 3, keys.join(','));
  assert.deepEqual(
    delivered.map((d) => d.seq).sort((a, b) => a - b),
    keys.map((_, i) => i),
  );
  assert.equal(events.length, keys.length);
  for (const k of keys) assert.equal(await decodeErrors(join(root, 'store', k)), '');
});

test('a discarded recording stores nothing, before or after, and leaves no spool', T, async () => {
  const { root, events, quarantined, make } = await setup('held-discard');
  const deliverer = make();
  await deliverer.start();
  const rec = await LiveRecording.start({ livestreamId: 'show-1', spec, deliverer, hold: true });
  try {
    await closed(rec, 2);
    assert.equal(await rec.discard(), true);
    await closed(rec, 3);
    await rec.stop();
    assert.ok(await deliverer.settled(rec.dir, 30_000), 'the spool folder is gone');
  } finally {
    await rec.stop().catch(() => undefined);
    await deliverer.close();
  }
  assert.deepEqual(await storedKeys(root), []);
  assert.equal(events.length, 0);
  assert.equal(quarantined.length, 0);
  // Only a held recording can be discarded: one that stores cannot lose what it made.
  const d2 = make();
  await d2.start();
  const plain = await LiveRecording.start({ livestreamId: 'show-1', spec, deliverer: d2 });
  try {
    await closed(plain, 1);
    assert.equal(await plain.discard(), false);
    await plain.stop();
    assert.ok(await d2.settled(plain.dir, 30_000));
  } finally {
    await plain.stop().catch(() => undefined);
    await d2.close();
  }
  assert.ok((await storedKeys(root)).length >= 2);
});

test(
  'a held recording nobody decided on is set aside with the reason, also after a crash',
  T,
  async () => {
    const { root, events, quarantined, make } = await setup('held-undecided');
    const deliverer = make();
    await deliverer.start();
    const rec = await LiveRecording.start({ livestreamId: 'show-1', spec, deliverer, hold: true });
    await closed(rec, 2);
    // Its process goes away without a word: the spool and its journal are all that is left.
    await deliverer.close();
    await rec.worker.close();
    const restarted = make();
    await restarted.start();
    await restarted.drain(10_000);
    await restarted.close();
    assert.deepEqual(await storedKeys(root), [], 'nothing stored');
    assert.equal(events.length, 0);
    assert.ok(quarantined.length >= 2, `quarantined: ${quarantined.length}`);
    for (const q of quarantined) {
      assert.match(q.reason, /never confirmed/);
      assert.match(await readFile(`${q.path}.reason.txt`, 'utf8'), /never confirmed/);
    }
  },
);
