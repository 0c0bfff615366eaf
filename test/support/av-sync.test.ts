import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { measureAvSync } from './av-sync.ts';
import { runOk } from './run.ts';

const TIMEOUT = { timeout: 120_000 };

describe('measureAvSync', TIMEOUT, () => {
  let dir = '';
  let inSync = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'av-sync-'));
    inSync = join(dir, 'in-sync.mp4');
    // pattern=blink alternates every frame, and videorate from 1/1 picks the
    // nearest input frame, which puts the edges at x.5 s. The ball pattern
    // with flip=true inverts on (n_frames / 50) % 2, i.e. on whole seconds at
    // 50 fps; videorate's 15 fps output frames at whole seconds land exactly
    // on input frames, so the edges stay on whole seconds.
    await runOk('gst-launch-1.0', [
      ...'-q -e videotestsrc pattern=ball flip=true num-buffers=300'.split(' '),
      ...'! video/x-raw,framerate=50/1,width=320,height=240 ! videorate'.split(' '),
      ...'! video/x-raw,framerate=15/1,format=I420 ! x264enc key-int-max=15'.split(' '),
      ...'! h264parse ! mp4mux name=mux ! filesink'.split(' '),
      `location=${inSync}`,
      ...'audiotestsrc wave=ticks tick-interval=1000000000 num-buffers=282'.split(' '),
      ...'! audio/x-raw,rate=48000,channels=1 ! audioconvert ! avenc_aac ! aacparse ! mux.'.split(
        ' ',
      ),
    ]);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('finds edges on whole seconds and no offset in an in-sync file', TIMEOUT, async () => {
    const r = await measureAvSync(inSync);
    assert.deepEqual(
      r.videoEdgesSec.map((t) => Math.round(t * 1000) / 1000),
      [1, 2, 3, 4, 5],
    );
    assert.equal(r.offsetsMs.length, r.videoEdgesSec.length);
    assert.ok(r.maxAbsOffsetMs < 40, `max |offset| ${r.maxAbsOffsetMs} ms`);
    assert.ok(Math.abs(r.medianOffsetMs) < 40, `median offset ${r.medianOffsetMs} ms`);
  });

  test('reports ~+200 ms when the audio is delayed by 200 ms', TIMEOUT, async () => {
    const late = join(dir, 'audio-late.mp4');
    // Re-encode the audio with real leading silence instead of a timestamp
    // shift, so the result does not depend on edit-list handling.
    await runOk('ffmpeg', [
      ...'-nostdin -v error -y -i'.split(' '),
      inSync,
      ...'-af adelay=200:all=1 -c:v copy -c:a aac'.split(' '),
      late,
    ]);
    const r = await measureAvSync(late);
    assert.ok(r.videoEdgesSec.length >= 4, `edges ${r.videoEdgesSec.join(',')}`);
    assert.ok(Math.abs(r.medianOffsetMs - 200) <= 40, `median offset ${r.medianOffsetMs} ms`);
    for (const o of r.offsetsMs) assert.ok(Math.abs(o - 200) <= 40, `offset ${o} ms`);
  });

  test('reports ~-200 ms when the video is delayed by 200 ms', TIMEOUT, async () => {
    const early = join(dir, 'audio-early.mp4');
    await runOk('ffmpeg', [
      ...'-nostdin -v error -y -itsoffset 0.2 -i'.split(' '),
      inSync,
      '-i',
      inSync,
      ...'-map 0:v -map 1:a -c copy'.split(' '),
      early,
    ]);
    const r = await measureAvSync(early);
    assert.ok(Math.abs(r.medianOffsetMs + 200) <= 40, `median offset ${r.medianOffsetMs} ms`);
  });

  test('counts a bright region of 16 % of the frame as non-black', TIMEOUT, async () => {
    const region = join(dir, 'region.mp4');
    // 128x96 box on 320x240 = 16 %, lit during odd seconds; ticks every second.
    await runOk('ffmpeg', [
      ...'-nostdin -v error -y -f lavfi -i'.split(' '),
      "color=black:s=320x240:r=15:d=5,drawbox=x=96:y=72:w=128:h=96:color=white:t=fill:enable='eq(mod(floor(t),2),1)'",
      ...'-f lavfi -i'.split(' '),
      "aevalsrc='if(lt(mod(t,1),0.02),0.8*sin(2*PI*440*t),0)':s=48000:d=5",
      ...'-c:v libx264 -pix_fmt yuv420p -c:a aac'.split(' '),
      region,
    ]);
    const r = await measureAvSync(region);
    assert.deepEqual(
      r.videoEdgesSec.map((t) => Math.round(t * 1000) / 1000),
      [1, 2, 3, 4],
    );
    assert.ok(r.maxAbsOffsetMs < 40, `max |offset| ${r.maxAbsOffsetMs} ms`);
    // A stricter pic_th treats the 16 % region as black: no edges, so it throws.
    await assert.rejects(measureAvSync(region, { picTh: 0.8 }), /no black\/bright video edges/);
  });
});
