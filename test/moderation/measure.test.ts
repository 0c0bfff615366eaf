import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { scoreAudio, scoreVideo, type QualityReason } from '../../src/domain/quality-rules.ts';
import { keyframeIndex, soundReadable } from '../../src/moderation/keyframe-index.ts';
import { audioWindows, measureSnippet, MeasureError } from '../../src/moderation/measure.ts';
import { probeMedia } from '../support/ffprobe.ts';
import { impairedSnippet } from '../support/impaired-media.ts';
import { run } from '../support/run.ts';
import { soundlessTail } from '../support/soundless-tail.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const near = (r: QualityReason, impairment: string, from: number, to: number) =>
  r.impairment === impairment && Math.abs(r.fromSec - from) <= 0.6 && Math.abs(r.toSec - to) <= 0.6;

test(
  'a snippet with 5 s of black picture and 5 s of silence is measured and scored as such',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measure-');
    dirs.push(dir);
    const file = await impairedSnippet(dir, 'black', 'silence', 'mp4');
    const m = await measureSnippet(file, { hasVideo: true });
    assert.ok(Math.abs(m.durationSec - 15) < 0.2, `duration ${m.durationSec}`);
    // One picture a second.
    assert.equal(m.video?.length, 15);
    const video = scoreVideo(m.video!, m.durationSec);
    const audio = scoreAudio(m.audio, m.durationSec);
    assert.equal(video.reasons.length, 1, JSON.stringify(video.reasons));
    assert.ok(near(video.reasons[0]!, 'black', 5, 10), JSON.stringify(video.reasons));
    assert.equal(audio.reasons.length, 1, JSON.stringify(audio.reasons));
    assert.ok(near(audio.reasons[0]!, 'silence', 5, 10), JSON.stringify(audio.reasons));
  },
);

test(
  'a recording-like GOP (a keyframe every third of a second) is measured from its keyframes alone, to the same result',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measure-');
    dirs.push(dir);
    const full = await measureSnippet(await impairedSnippet(dir, 'black', 'silence', 'mp4', 15), {
      hasVideo: true,
    });
    const keyframes = await measureSnippet(
      await impairedSnippet(dir, 'black', 'silence', 'mp4', 5),
      { hasVideo: true },
    );
    assert.equal(keyframes.video?.length, full.video?.length);
    for (const m of [full, keyframes]) {
      const video = scoreVideo(m.video!, m.durationSec);
      assert.equal(video.reasons.length, 1, JSON.stringify(video.reasons));
      assert.ok(near(video.reasons[0]!, 'black', 5, 10), JSON.stringify(video.reasons));
      assert.equal(scoreAudio(m.audio, m.durationSec).reasons.length, 1);
    }
    // The scrolling picture changes between every two windows whichever way it was decoded.
    const moving = (m: typeof full) =>
      m
        .video!.filter((w) => w.atSec > 0 && (w.atSec < 5 || w.atSec >= 10.5))
        .every((w) => w.lumaChange > 1);
    assert.ok(moving(full) && moving(keyframes));
  },
);

test(
  'clean content and loud noise; an MP3 has audio windows only',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measure-');
    dirs.push(dir);
    const clean = await measureSnippet(await impairedSnippet(dir, 'none', 'none', 'mp4'), {
      hasVideo: true,
    });
    assert.deepEqual(scoreVideo(clean.video!, clean.durationSec).reasons, []);
    assert.deepEqual(scoreAudio(clean.audio, clean.durationSec).reasons, []);
    const noisy = await measureSnippet(await impairedSnippet(dir, 'none', 'noise', 'mp3'), {
      hasVideo: false,
    });
    assert.equal(noisy.video, null);
    const reasons = scoreAudio(noisy.audio, noisy.durationSec).reasons;
    assert.equal(reasons.length, 1, JSON.stringify(reasons));
    assert.ok(near(reasons[0]!, 'noise', 5, 10), JSON.stringify(reasons));
  },
);

test(
  'a keyframe whose NAL unit runs past its end is measured the long way or refused, never a crash',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measure-');
    dirs.push(dir);
    const buf = await readFile(await impairedSnippet(dir, 'none', 'none', 'mp4', 5));
    const first = keyframeIndex(buf).keyframes[0]!;
    buf.writeUInt32BE(0xffffff, first.offset);
    const file = join(dir, 'cut-nal.mp4');
    await writeFile(file, buf);
    let measured: Awaited<ReturnType<typeof measureSnippet>> | null = null;
    try {
      measured = await measureSnippet(file, { hasVideo: true });
    } catch (err) {
      assert.ok(err instanceof MeasureError, String(err));
    }
    if (measured) assert.equal(measured.video?.length, 15);
  },
);

test(
  'a last snippet whose sound track has no sample is measured by its picture, as silence',
  { timeout: 60_000 },
  async () => {
    const dir = await tempDir('measure-tail-');
    dirs.push(dir);
    const { tail } = await soundlessTail(dir);
    const m = await measureSnippet(tail, { hasVideo: true, timeoutMs: 20_000 });
    assert.ok(Math.abs(m.durationSec - 0.267) < 0.01, `duration ${m.durationSec}`);
    assert.ok(m.audio.length > 0 && m.audio.every((w) => w.rmsDb === -Infinity));
    assert.equal(m.video?.length, 1);
    // Far shorter than any impairment counts: nothing to review.
    assert.deepEqual(scoreAudio(m.audio, m.durationSec).reasons, []);
    assert.deepEqual(scoreVideo(m.video!, m.durationSec).reasons, []);
  },
);

test(
  'a last snippet with 43 ms of sound under 0.27 s of picture, a sound track GStreamer skips, is measured by its picture, as silence',
  { timeout: 60_000 },
  async () => {
    // Two AAC frames (43 ms) under 0.267 s of picture, and three (64 ms) for the other side of
    // qtdemux's line: a fifth of the movie, 53 ms here.
    const tail = await tailWithAacFrames(2);
    const sound = (await probeMedia(tail)).audio;
    assert.ok(sound && sound.durationSec > 0, JSON.stringify(sound));
    assert.equal(soundReadable(await readFile(tail)), false);
    assert.equal(soundReadable(await readFile(await tailWithAacFrames(3))), true);
    // Before, the decode waited for that sound until its timeout.
    const m = await measureSnippet(tail, { hasVideo: true, timeoutMs: 20_000 });
    assert.ok(Math.abs(m.durationSec - 0.267) < 0.01, `duration ${m.durationSec}`);
    assert.ok(m.audio.length > 0 && m.audio.every((w) => w.rmsDb === -Infinity));
    assert.equal(m.video?.length, 1);
    assert.deepEqual(scoreAudio(m.audio, m.durationSec).reasons, []);
  },
);

test(
  'what tapedeck records is decoded by the named chain; anything else through decodebin',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measure-chain-');
    dirs.push(dir);
    const mp3 = await measureSnippet(await impairedSnippet(dir, 'none', 'none', 'mp3'), {
      hasVideo: false,
    });
    const mp4 = await measureSnippet(await impairedSnippet(dir, 'none', 'silence', 'mp4', 5), {
      hasVideo: true,
    });
    assert.equal(mp3.decodedBy, 'named');
    assert.equal(mp4.decodedBy, 'named');
    assert.ok(near(scoreAudio(mp4.audio, mp4.durationSec).reasons[0]!, 'silence', 5, 10));

    // WAV, and an MP4 whose sound is MP3: the chain refuses both, decodebin takes them.
    const wav = join(dir, 'tone.wav');
    const mp3InMp4 = join(dir, 'mp3-sound.mp4');
    const tone =
      'audiotestsrc num-buffers=30 samplesperbuffer=24000 wave=sine freq=440 volume=0.3 ! audio/x-raw,rate=48000';
    await run('sh', [
      '-c',
      `gst-launch-1.0 -q ${tone} ! audioconvert ! wavenc ! filesink location=${wav}`,
    ]);
    await run('sh', [
      '-c',
      `gst-launch-1.0 -q videotestsrc num-buffers=225 ! video/x-raw,width=320,height=180,framerate=15/1 ! ` +
        `x264enc speed-preset=ultrafast key-int-max=5 ! h264parse ! mp4mux name=m ! filesink location=${mp3InMp4} ` +
        `${tone} ! audioconvert ! lamemp3enc ! mpegaudioparse ! m.`,
    ]);
    const fromWav = await measureSnippet(wav, { hasVideo: false });
    const fromMp4 = await measureSnippet(mp3InMp4, { hasVideo: true });
    for (const m of [fromWav, fromMp4]) {
      assert.equal(m.decodedBy, 'decodebin');
      assert.ok(Math.abs(m.durationSec - 15) < 0.2, `duration ${m.durationSec}`);
      // A sine at 0.3 of full scale: -13.5 dBFS RMS.
      const rms = m.audio.map((w) => w.rmsDb).sort((a, b) => a - b)[m.audio.length >> 1]!;
      assert.ok(Math.abs(rms + 13.5) < 1.5, `median RMS ${rms} dBFS`);
    }
    assert.equal(fromMp4.video?.length, 15);
  },
);

test(
  'an MP4 whose pictures came with its event is measured by its sound alone',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('measure-sound-');
    dirs.push(dir);
    const file = await impairedSnippet(dir, 'black', 'silence', 'mp4');
    const m = await measureSnippet(file, { hasVideo: true, pictures: false });
    assert.equal(m.video, null, 'no picture decoded');
    assert.equal(m.decodedBy, 'named');
    assert.ok(Math.abs(m.durationSec - 15) < 0.2, `duration ${m.durationSec}`);
    const audio = scoreAudio(m.audio, m.durationSec);
    assert.equal(audio.reasons.length, 1, JSON.stringify(audio.reasons));
    assert.ok(near(audio.reasons[0]!, 'silence', 5, 10), JSON.stringify(audio.reasons));
    // Without sound GStreamer reads, it is silence as long as its picture.
    const { tail } = await soundlessTail(dir);
    const t = await measureSnippet(tail, { hasVideo: true, pictures: false });
    assert.ok(Math.abs(t.durationSec - 0.267) < 0.01, `duration ${t.durationSec}`);
    assert.ok(t.audio.length > 0 && t.audio.every((w) => w.rmsDb === -Infinity));
    await assert.rejects(
      measureSnippet(join(dir, 'missing.mp4'), { hasVideo: true, pictures: false }),
      MeasureError,
    );
  },
);

test('a file that is not media gives a clear error', { timeout: 60_000 }, async () => {
  const dir = await tempDir('measure-');
  dirs.push(dir);
  const file = join(dir, 'not-media.mp4');
  await writeFile(file, 'this is not an MP4 file\n');
  await assert.rejects(measureSnippet(file, { hasVideo: true }), MeasureError);
  await assert.rejects(measureSnippet(join(dir, 'missing.mp4'), { hasVideo: true }), MeasureError);
});

test('audio windows: RMS and peak in dBFS per half second', () => {
  const rate = 1000;
  const samples = new Float32Array(rate);
  for (let i = 0; i < 500; i++) samples[i] = i % 2 === 0 ? 0.5 : -0.5;
  const w = audioWindows(samples, rate, 0.5);
  assert.equal(w.length, 2);
  assert.ok(Math.abs(w[0]!.rmsDb - 20 * Math.log10(0.5)) < 1e-6);
  assert.ok(Math.abs(w[0]!.peakDb - 20 * Math.log10(0.5)) < 1e-6);
  assert.equal(w[1]!.rmsDb, -Infinity);
  assert.equal(w[1]!.atSec, 0.5);
});

/**
 * A soundless tail with this many AAC frames under its picture. Where a live pipeline's sound
 * ends against the cut moves by a frame or two from run to run (97 buffers left 2, 3 or 4 frames
 * in 12 runs), so the number of buffers is moved until the tail has as many as asked.
 */
async function tailWithAacFrames(frames: number): Promise<string> {
  const frameSec = 1024 / 48_000;
  let buffers = 94 + frames;
  const seen: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    const dir = await tempDir('measure-short-sound-');
    dirs.push(dir);
    const { tail } = await soundlessTail(dir, buffers);
    const got = Math.round(((await probeMedia(tail)).audio?.durationSec ?? 0) / frameSec);
    if (got === frames) return tail;
    seen.push(got);
    buffers += got < frames ? 1 : -1;
  }
  throw new Error(`no tail with ${frames} AAC frames in 12 tries (got ${seen.join(', ')})`);
}
