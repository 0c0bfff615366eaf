import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { spawnTracked, stopTracked } from './children.ts';
import { checkHls, waitForHlsEndList } from './hls.ts';

const TIMEOUT = { timeout: 120_000 };

describe('checkHls', TIMEOUT, () => {
  let dir = '';
  let playlist = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hls-'));
    playlist = join(dir, 'playlist.m3u8');
    // ~7 s: 105 frames at 15 fps with a keyframe every second, 329 x 1024
    // samples at 48 kHz; playlist-length=0 and max-files=0 keep every segment.
    const gst = spawnTracked(
      'gst-launch-1.0',
      [
        ...'-q -e hlssink2 name=hls target-duration=2 playlist-length=0 max-files=0'.split(' '),
        `location=${join(dir, 'segment%05d.ts')}`,
        `playlist-location=${playlist}`,
        ...'videotestsrc num-buffers=105 ! video/x-raw,framerate=15/1,width=320,height=240'.split(
          ' ',
        ),
        ...'! x264enc key-int-max=15 ! h264parse ! queue ! hls.video'.split(' '),
        ...'audiotestsrc num-buffers=329 ! audio/x-raw,rate=48000,channels=2'.split(' '),
        ...'! audioconvert ! avenc_aac ! aacparse ! queue ! hls.audio'.split(' '),
      ],
      { stdio: 'ignore' },
    );
    const exited = once(gst, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // hlssink2 (GStreamer 1.22) sometimes never posts EOS after writing the
    // final playlist, so gst-launch would hang; the ENDLIST is the real "done".
    const polling = new AbortController();
    const first = await Promise.race([
      exited,
      waitForHlsEndList(playlist, { signal: polling.signal }),
    ]);
    polling.abort();
    if (first) {
      assert.equal(first[0], 0, 'gst-launch-1.0 failed');
    } else {
      await Promise.race([exited, sleep(1000)]);
      await stopTracked(gst, 'SIGTERM', 2000);
    }
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('accepts the playlist written by hlssink2', TIMEOUT, async () => {
    const r = await checkHls(playlist);
    assert.deepEqual(r.errors, []);
    assert.equal(r.targetDurationSec, 2);
    assert.ok(r.segments.length >= 3, `${r.segments.length} segments`);
    for (const s of r.segments) {
      assert.ok(s.durationSec <= r.targetDurationSec + 0.5, `${s.uri}: ${s.durationSec} s`);
    }
    assert.ok(Math.abs(r.totalSec - 7) < 1, `total ${r.totalSec} s`);
  });

  test('reports missing and undecodable segments', TIMEOUT, async () => {
    const broken = join(dir, 'broken.m3u8');
    await writeFile(join(dir, 'garbage.ts'), Buffer.alloc(4096, 0x47));
    await writeFile(
      broken,
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment00000.ts\n' +
        '#EXTINF:2.0,\nmissing.ts\n#EXTINF:2.0,\ngarbage.ts\n#EXT-X-ENDLIST\n',
    );
    const r = await checkHls(broken);
    assert.equal(r.segments.length, 3);
    assert.ok(
      r.errors.some((e) => e.startsWith('missing.ts: missing')),
      r.errors.join('\n'),
    );
    assert.ok(
      r.errors.some((e) => e.startsWith('garbage.ts:')),
      r.errors.join('\n'),
    );
    assert.ok(!r.errors.some((e) => e.startsWith('segment00000.ts')), r.errors.join('\n'));
  });
});
