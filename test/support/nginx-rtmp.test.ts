import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { probeMedia } from './ffprobe.ts';
import { startRtmpServer } from './nginx-rtmp.ts';
import { runOk } from './run.ts';

test('nginx-rtmp records a pushed H.264+AAC stream', { timeout: 120_000 }, async (t) => {
  const workDir = await mkdtemp(join(tmpdir(), 'nginx-rtmp-'));
  t.after(() => rm(workDir, { recursive: true, force: true }));
  const server = await startRtmpServer({ workDir });
  t.after(() => server.stop());

  // 5 s: 75 frames at 15 fps, 235 x 1024 samples at 48 kHz.
  await runOk('gst-launch-1.0', [
    ...'-q -e videotestsrc num-buffers=75 ! video/x-raw,framerate=15/1,width=320,height=240'.split(
      ' ',
    ),
    ...'! x264enc tune=zerolatency key-int-max=15 ! h264parse ! queue'.split(' '),
    ...'! flvmux name=mux streamable=true ! rtmp2sink'.split(' '),
    `location=${server.url}`,
    ...'audiotestsrc num-buffers=235 ! audio/x-raw,rate=48000,channels=2'.split(' '),
    ...'! audioconvert ! avenc_aac ! aacparse ! queue ! mux.'.split(' '),
  ]);
  await server.stop();

  const files = server.recordedFiles().filter((f) => f.endsWith('.flv'));
  assert.deepEqual(files, [join(server.recordDir, 'test.flv')]);
  const info = await probeMedia(files[0] ?? '');
  assert.equal(info.video?.codec, 'h264');
  assert.equal(info.audio?.codec, 'aac');
  assert.ok(info.durationSec >= 4, `duration ${info.durationSec} s`);
});
