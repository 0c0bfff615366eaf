import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  chooseGrid,
  ffmpegRecorderArgs,
  runFfmpegRecorder,
  type FfmpegRecorderSpec,
} from '../../src/bench/ffmpeg-recorder.ts';

const base = {
  durationSec: 20,
  outDir: '/tmp/out',
  fps: 15,
  gopFrames: 15,
  videoKbps: 5000,
  preset: 'superfast',
  audioKbps: 44,
  audioChannels: 2,
  snippetSec: 15,
};
const composite4: FfmpegRecorderSpec = {
  ...base,
  kind: 'composite',
  inputs: 4,
  canvas: { width: 360, height: 640 },
};
const host: FfmpegRecorderSpec = {
  ...base,
  kind: 'host',
  inputs: 1,
  canvas: { width: 640, height: 360 },
};
const audio: FfmpegRecorderSpec = {
  ...base,
  kind: 'audio',
  inputs: 3,
  canvas: { width: 360, height: 640 },
};

/** Value following flag in argv (first occurrence). */
function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** True when argv contains the given flag/value pairs, in this order, contiguously. */
function hasSequence(args: string[], seq: string[]): boolean {
  for (let i = 0; i + seq.length <= args.length; i++) {
    if (seq.every((s, j) => args[i + j] === s)) return true;
  }
  return false;
}

const VIDEO_SETTINGS = [
  '-c:v',
  'libx264',
  '-preset',
  'superfast',
  '-profile:v',
  'main',
  '-pix_fmt',
  'yuv420p',
  '-r',
  '15',
  '-g',
  '15',
  '-keyint_min',
  '15',
  '-sc_threshold',
  '0',
  '-b:v',
  '5000k',
  '-maxrate',
  '5000k',
  '-bufsize',
  '5000k',
];
const SEGMENT_MP4 = [
  '-f',
  'segment',
  '-segment_time',
  '15',
  '-reset_timestamps',
  '1',
  '-segment_format',
  'mp4',
  '-segment_format_options',
  'movflags=+faststart',
  '/tmp/out/ffmpeg_%06d.mp4',
];

describe('chooseGrid', { timeout: 5_000 }, () => {
  it('maximises the 16:9 tile size', { timeout: 1_000 }, () => {
    assert.deepEqual(chooseGrid(4, { width: 360, height: 640 }), { cols: 1, rows: 4 });
    assert.deepEqual(chooseGrid(1, { width: 360, height: 640 }), { cols: 1, rows: 1 });
    assert.deepEqual(chooseGrid(4, { width: 1280, height: 720 }), { cols: 2, rows: 2 });
    assert.deepEqual(chooseGrid(9, { width: 1280, height: 720 }), { cols: 3, rows: 3 });
    // tie (320x180 tiles either way): fewer columns wins
    assert.deepEqual(chooseGrid(2, { width: 640, height: 360 }), { cols: 1, rows: 2 });
    assert.deepEqual(chooseGrid(2, { width: 360, height: 640 }), { cols: 1, rows: 2 });
    assert.deepEqual(chooseGrid(3, { width: 1280, height: 720 }), { cols: 2, rows: 2 });
  });
});

describe('ffmpegRecorderArgs', { timeout: 5_000 }, () => {
  it(
    'composite: 4 paced inputs, 1x4 grid, amix, H.264+AAC in MP4 snippets',
    { timeout: 1_000 },
    () => {
      const args = ffmpegRecorderArgs(composite4);
      const inputs = args.filter((a, i) => args[i - 1] === '-i');
      assert.equal(inputs.length, 8);
      assert.equal(inputs.filter((i) => i === 'testsrc2=size=640x360:rate=15').length, 4);
      const sines = inputs.filter((i) => i.startsWith('sine='));
      assert.equal(new Set(sines).size, 4, 'a different frequency per input');
      for (const s of sines) assert.match(s, /^sine=frequency=\d+:sample_rate=48000$/);
      // every lavfi input is paced with -re
      assert.equal(args.filter((a) => a === '-re').length, 8);
      for (let i = 0; i < args.length; i++) {
        if (args[i] === 'lavfi') assert.equal(args[i - 2], '-re');
      }
      const graph = after(args, '-filter_complex') ?? '';
      assert.match(graph, /scale=360:160:force_original_aspect_ratio=decrease/);
      assert.match(graph, /xstack=inputs=4:layout=0_0\|0_160\|0_320\|0_480:fill=black/);
      assert.match(graph, /pad=360:640:/);
      assert.match(graph, /amix=inputs=4/);
      assert.ok(hasSequence(args, ['-map', '[vout]', '-map', '[aout]']));
      assert.ok(hasSequence(args, VIDEO_SETTINGS));
      assert.ok(hasSequence(args, ['-c:a', 'aac', '-b:a', '44k', '-ar', '48000', '-ac', '2']));
      assert.equal(after(args, '-t'), '20');
      assert.ok(hasSequence(args, SEGMENT_MP4));
      assert.equal(args.at(-1), '/tmp/out/ffmpeg_%06d.mp4');
    },
  );

  it('host: 1 input scaled to the canvas', { timeout: 1_000 }, () => {
    const args = ffmpegRecorderArgs(host);
    const inputs = args.filter((a, i) => args[i - 1] === '-i');
    assert.equal(inputs.length, 2);
    const graph = after(args, '-filter_complex') ?? '';
    assert.match(graph, /scale=640:360:/);
    assert.doesNotMatch(graph, /xstack|amix/);
    assert.ok(hasSequence(args, VIDEO_SETTINGS));
    assert.ok(hasSequence(args, ['-c:a', 'aac', '-b:a', '44k', '-ar', '48000', '-ac', '2']));
    assert.ok(hasSequence(args, SEGMENT_MP4));
    assert.throws(() => ffmpegRecorderArgs({ ...host, inputs: 2 }), RangeError);
  });

  it('audio: only sines, mixed, MP3 snippets', { timeout: 1_000 }, () => {
    const args = ffmpegRecorderArgs(audio);
    const inputs = args.filter((a, i) => args[i - 1] === '-i');
    assert.equal(inputs.length, 3);
    assert.ok(inputs.every((i) => i.startsWith('sine=')));
    assert.ok(!args.includes('-c:v'));
    assert.ok(!args.includes('[vout]'));
    assert.match(after(args, '-filter_complex') ?? '', /amix=inputs=3/);
    assert.ok(hasSequence(args, ['-c:a', 'libmp3lame', '-b:a', '48k', '-ar', '48000', '-ac', '2']));
    assert.ok(
      hasSequence(args, [
        '-f',
        'segment',
        '-segment_time',
        '15',
        '-reset_timestamps',
        '1',
        '-segment_format',
        'mp3',
        '/tmp/out/ffmpeg_%06d.mp3',
      ]),
    );
    assert.ok(!args.includes('movflags=+faststart'));
  });

  it('rejects out-of-range specs', { timeout: 1_000 }, () => {
    assert.throws(() => ffmpegRecorderArgs({ ...composite4, inputs: 0 }), RangeError);
    assert.throws(() => ffmpegRecorderArgs({ ...composite4, inputs: 10 }), RangeError);
    assert.throws(() => ffmpegRecorderArgs({ ...composite4, durationSec: 0 }), RangeError);
    assert.throws(() => ffmpegRecorderArgs({ ...composite4, audioChannels: 6 }), RangeError);
  });
});

function probe(file: string, entries: string, stream: false | 'v:0' | 'a:0' = false): string {
  return execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      ...(stream ? ['-select_streams', stream] : []),
      '-show_entries',
      entries,
      '-of',
      'csv=p=0',
      file,
    ],
    { encoding: 'utf8' },
  ).trim();
}

describe('runFfmpegRecorder (live)', { timeout: 60_000 }, () => {
  it(
    'a 16 s host run leaves 2 snippets, the first ~15 s of H.264 640x360',
    { timeout: 45_000 },
    async () => {
      const outDir = mkdtempSync(join(tmpdir(), 'tapedeck-bench-ffmpeg-'));
      try {
        const started = Date.now();
        const run = runFfmpegRecorder({ ...host, durationSec: 16, outDir });
        const code = await run.done;
        const wallSec = (Date.now() - started) / 1000;
        assert.equal(code, 0, run.stderrTail());
        assert.ok(wallSec >= 15, `inputs are paced at real time (took ${wallSec} s)`);
        const files = readdirSync(outDir).sort();
        assert.deepEqual(files, ['ffmpeg_000000.mp4', 'ffmpeg_000001.mp4']);
        const first = join(outDir, files[0] ?? '');
        const duration = Number(probe(first, 'format=duration'));
        assert.ok(Math.abs(duration - 15) < 0.5, `first snippet lasts ${duration} s`);
        assert.equal(probe(first, 'stream=codec_name,width,height', 'v:0'), 'h264,640,360');
        // The channels the spec asks for, not the mono of its sine source.
        assert.equal(probe(first, 'stream=codec_name,channels', 'a:0'), 'aac,2');
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    },
  );
});
