import assert from 'node:assert/strict';
import { appendFile, copyFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkSnippet, repairSnippet } from '../../src/delivery/check/snippet-check.ts';
import { defaultProfile } from '../../src/domain/profile.ts';
import { runSyntheticRecording, syntheticHost } from '../../src/media/synthetic-recording.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { tempDir } from '../support/tapedeck.ts';

const T = { timeout: 120_000 };
let dir = '';
let mp4 = '';
let mp3 = '';

before(async () => {
  dir = await tempDir('check');
  const profile = { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 };
  const [video, audio] = await Promise.all(
    (['host', 'audio'] as const).map((kind) =>
      runSyntheticRecording({
        spec: {
          kind,
          recordingId: kind,
          outDir: join(dir, kind),
          profile,
          inputs: [syntheticHost(1)],
        },
        durationSec: 4,
      }),
    ),
  );
  mp4 = video!.snippets[0]!.location;
  mp3 = audio!.snippets[0]!.location;
});
after(() => rm(dir, { recursive: true, force: true }));

test('whole snippets from the media engine pass, with the durations ffprobe reads', T, async () => {
  for (const [file, variant] of [
    [mp4, 'mp4'],
    [mp3, 'mp3'],
  ] as const) {
    const c = await checkSnippet(file, variant);
    assert.equal(c.status, 'complete', JSON.stringify(c));
    const probed = await probeMedia(file);
    assert.ok(
      c.status === 'complete' && Math.abs(c.durationMs / 1000 - probed.durationSec) < 0.05,
      `${file}: ${JSON.stringify(c)} vs ${probed.durationSec}`,
    );
  }
});

test(
  'an MP4 with bytes past its last index update is trimmed to a file that plays',
  T,
  async () => {
    const cut = join(dir, 'tail.mp4');
    await copyFile(mp4, cut);
    const before = (await stat(cut)).size;
    await appendFile(cut, Buffer.alloc(50_000, 7));
    const c = await checkSnippet(cut, 'mp4');
    assert.equal(c.status, 'repairable', JSON.stringify(c));
    if (c.status !== 'repairable') return;
    assert.equal(c.repairedSize, before);
    await repairSnippet(cut, 'mp4', c.repairedSize);
    assert.equal((await checkSnippet(cut, 'mp4')).status, 'complete');
    assert.deepEqual(await readFile(cut), await readFile(mp4));
  },
);

test('an MP3 torn in the middle of a frame loses only that frame', T, async () => {
  const cut = join(dir, 'torn.mp3');
  await copyFile(mp3, cut);
  const size = (await stat(cut)).size;
  await truncate(cut, size - 100);
  const c = await checkSnippet(cut, 'mp3');
  assert.equal(c.status, 'repairable', JSON.stringify(c));
  if (c.status !== 'repairable') return;
  await repairSnippet(cut, 'mp3', c.repairedSize);
  const after = await checkSnippet(cut, 'mp3');
  assert.equal(after.status, 'complete');
  assert.equal(await decodeErrors(cut), '');
});

test('files that are not snippets are refused with a reason', T, async () => {
  const empty = join(dir, 'empty.mp4');
  await writeFile(empty, '');
  const noise = join(dir, 'noise.mp3');
  await writeFile(noise, Buffer.alloc(4000, 0x41));
  const headless = join(dir, 'headless.mp4');
  await copyFile(mp4, headless);
  // Cut inside the media the header points to: the index promises more than the file has.
  await truncate(headless, (await stat(mp4)).size - 20_000);
  const cases = [
    [empty, 'mp4', /empty/],
    [noise, 'mp3', /no MPEG audio frame|no audio frames/],
    [headless, 'mp4', /missing from the file/],
    [mp3, 'mp4', /ftyp/],
  ] as const;
  for (const [file, variant, reason] of cases) {
    const c = await checkSnippet(file, variant);
    assert.equal(c.status, 'invalid', `${file}: ${JSON.stringify(c)}`);
    assert.match(c.status === 'invalid' ? c.problem : '', reason);
  }
});
