import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { decodeErrors, probeMedia, videoFrameTimes } from './ffprobe.ts';
import { runOk } from './run.ts';

const TIMEOUT = { timeout: 60_000 };

describe('ffprobe helpers', TIMEOUT, () => {
  let dir = '';
  let clip = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ffprobe-'));
    clip = join(dir, 'clip.mp4');
    // 2 s, 15 fps with B-frames (so decode order != presentation order).
    await runOk('ffmpeg', [
      ...'-nostdin -v error -y -f lavfi -i testsrc2=s=320x240:r=15:d=2'.split(' '),
      ...'-f lavfi -i sine=f=440:sample_rate=48000:d=2'.split(' '),
      ...'-c:v libx264 -profile:v main -pix_fmt yuv420p -bf 2 -c:a aac -ac 1'.split(' '),
      clip,
    ]);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('probeMedia reads streams and computes bitrates from packets', TIMEOUT, async () => {
    const info = await probeMedia(clip);
    assert.match(info.formatName, /mp4/);
    assert.ok(info.sizeBytes > 0);
    assert.ok(Math.abs(info.durationSec - 2) < 0.1, `duration ${info.durationSec}`);
    const v = info.video;
    assert.ok(v);
    assert.deepEqual(
      [v.codec, v.profile, v.pixFmt, v.width, v.height, v.fps, v.frames],
      ['h264', 'Main', 'yuv420p', 320, 240, 15, 30],
    );
    assert.ok(Math.abs(v.durationSec - 2) < 0.1);
    assert.ok(v.bitRateKbps > 0 && v.bitRateKbps < (info.sizeBytes * 8) / 1000 / 2);
    const a = info.audio;
    assert.ok(a);
    assert.deepEqual([a.codec, a.sampleRate, a.channels], ['aac', 48000, 1]);
    assert.ok(a.bitRateKbps > 10 && a.bitRateKbps < 200, `audio ${a.bitRateKbps} kbps`);
  });

  test('videoFrameTimes lists every frame in presentation order', TIMEOUT, async () => {
    const times = await videoFrameTimes(clip);
    assert.equal(times.length, 30);
    times.forEach((t, i) => assert.ok(Math.abs(t - i / 15) < 0.002, `frame ${i} at ${t}`));
  });

  test('decodeErrors is empty for a clean file and not for garbage', TIMEOUT, async () => {
    assert.equal(await decodeErrors(clip), '');
    const junk = join(dir, 'junk.mp4');
    await writeFile(junk, Buffer.from('not a video'));
    assert.notEqual(await decodeErrors(junk), '');
    assert.notEqual(await decodeErrors(join(dir, 'absent.mp4')), '');
  });
});
