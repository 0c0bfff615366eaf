import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  annexB,
  keyframeIndex,
  KeyframeIndexError,
  keyframePerWindow,
  keyframeStream,
} from '../../src/moderation/keyframe-index.ts';
import { impairedSnippet } from '../support/impaired-media.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const T = { timeout: 5_000 };

/** NAL unit types in an Annex B stream. */
function nalTypes(stream: Buffer): number[] {
  const types: number[] = [];
  for (let at = stream.indexOf(START); at !== -1; at = stream.indexOf(START, at + 4))
    types.push(stream[at + 4]! & 0x1f);
  return types;
}
const START = Buffer.from([0, 0, 0, 1]);

test(
  'one keyframe per window: the nearest to its start, repeated where keyframes are sparse',
  T,
  () => {
    const every = (gap: number, until: number) =>
      Array.from({ length: Math.round(until / gap) }, (_, i) => ({ atSec: i * gap }));
    // A recording's GOP: 3 keyframes a second, 2 windows a second.
    const picks = keyframePerWindow(every(1 / 3, 15), 15, 0.5);
    assert.equal(picks.length, 30);
    assert.deepEqual(picks.slice(0, 7), [0, 1, 3, 4, 6, 7, 9]);
    // One keyframe a second: every other window shows the same picture.
    assert.deepEqual(keyframePerWindow(every(1, 3), 3, 0.5), [0, 0, 1, 1, 2, 2]);
    assert.deepEqual(keyframePerWindow([], 15, 0.5), []);
    assert.deepEqual(keyframePerWindow(every(1 / 3, 1), 1, 0.5), [0, 1]);
  },
);

test('Annex B: each length-prefixed NAL unit behind a start code; a cut one is refused', T, () => {
  const sample = Buffer.from([0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 1, 0x06]);
  assert.deepEqual(annexB(sample, 4), Buffer.from([0, 0, 0, 1, 0x65, 0xaa, 0, 0, 0, 1, 0x06]));
  assert.throws(() => annexB(Buffer.from([0, 0, 0, 9, 0x65]), 4), KeyframeIndexError);
  assert.throws(() => annexB(Buffer.from([0, 0, 0, 0, 0x65]), 4), KeyframeIndexError);
});

test(
  "a recording-like snippet's keyframes are read from its index and decode on their own",
  { timeout: 60_000 },
  async () => {
    const dir = await tempDir('keyframes-');
    dirs.push(dir);
    const file = await impairedSnippet(dir, 'none', 'none', 'mp4', 5);
    const buf = await readFile(file);
    const index = keyframeIndex(buf);
    assert.equal(index.lengthSize, 4);
    assert.deepEqual(
      index.parameterSets.map((p) => p[0]! & 0x1f),
      [7, 8],
      'SPS then PPS',
    );
    assert.ok(Math.abs(index.durationSec - 15) < 0.1, `duration ${index.durationSec}`);
    assert.equal(index.keyframes.length, 45);
    for (const [i, k] of index.keyframes.entries()) {
      assert.ok(Math.abs(k.atSec - i / 3) < 1e-6, `keyframe ${i} at ${k.atSec}`);
      const types = nalTypes(annexB(buf.subarray(k.offset, k.offset + k.size), 4));
      assert.ok(types.includes(5), `keyframe ${i} has an IDR slice: ${types.join(',')}`);
    }
    // Each chosen keyframe decodes on its own to exactly one picture.
    const picks = [...new Set(keyframePerWindow(index.keyframes, index.durationSec, 0.5))];
    const stream = join(dir, 'k.h264');
    await writeFile(stream, keyframeStream(buf, index, picks));
    const probe = spawnSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-count_frames',
        '-show_entries',
        'stream=nb_read_frames,codec_name',
        '-of',
        'csv=p=0',
        stream,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(probe.stdout.trim(), `h264,${picks.length}`, probe.stderr);
    assert.equal(picks.length, 30);

    assert.throws(() => keyframeIndex(Buffer.from('not an MP4')), KeyframeIndexError);
    const audioOnly = await readFile(await impairedSnippet(dir, 'none', 'none', 'mp3'));
    assert.throws(() => keyframeIndex(audioOnly), KeyframeIndexError);
  },
);
