import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  gstError,
  MergeError,
  mergeClip,
  type ClipVariant,
} from '../../src/moderation/merge-clip.ts';
import { decodeErrors, packetTimes, probeMedia, type PacketTime } from '../support/ffprobe.ts';
import { runOk } from '../support/run.ts';
import { soundlessTail } from '../support/soundless-tail.ts';
import { storedSnippets, tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function newDir(prefix: string): Promise<string> {
  const d = await tempDir(prefix);
  dirs.push(d);
  return d;
}

/** A real recording by the CLI, 46 s: three whole 15-s snippets and a short last one. */
async function record(kind: 'host' | 'audio', variant: ClipVariant): Promise<string[]> {
  const out = await newDir(`merge-${kind}`);
  const r = await tapedeck(
    ['record', '--kind', kind, '--inputs', '1', '--duration', '46', '--out', out, '--json'],
    { timeoutMs: 170_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const files = await storedSnippets(out, 'host-h1', variant);
  assert.ok(files.length >= 3, `${kind}: ${files.length} snippets`);
  return files;
}

let mp4: string[] = [];
let mp3: string[] = [];
before(
  async () => {
    [mp4, mp3] = await Promise.all([record('host', 'mp4'), record('audio', 'mp3')]);
  },
  { timeout: 200_000 },
);

/** Packet sizes of one stream in file order: a re-encode could not reproduce them. */
async function packetSizes(path: string, kind: 'v' | 'a'): Promise<number[]> {
  const { stdout } = await runOk('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    `${kind}:0`,
    '-show_entries',
    'packet=size',
    '-of',
    'csv=p=0',
    path,
  ]);
  return stdout.trim().split('\n').map(Number);
}

/** Top-level MP4 box types in file order, read from the bytes. */
async function topLevelBoxes(path: string): Promise<string[]> {
  const buf = await readFile(path);
  const types: string[] = [];
  for (let at = 0; at + 8 <= buf.length;) {
    let size = buf.readUInt32BE(at);
    if (size === 1) size = Number(buf.readBigUInt64BE(at + 8));
    if (size === 0) size = buf.length - at;
    types.push(buf.toString('latin1', at + 4, at + 8));
    at += size;
  }
  return types;
}

/** Bytes of an MP3 file after its ID3v2 tag. */
function mp3Frames(buf: Buffer): Buffer {
  if (buf.toString('latin1', 0, 3) !== 'ID3') return buf;
  const size = (buf[6]! << 21) | (buf[7]! << 14) | (buf[8]! << 7) | buf[9]!;
  return buf.subarray(10 + size);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('merging MP4 snippets', () => {
  let out = '';
  let outDir = '';
  let result = { durationSec: 0, bytes: 0 };
  const progress: number[] = [];

  before(
    async () => {
      outDir = await newDir('merge-out');
      out = join(outDir, 'clip.mp4');
      result = await mergeClip(mp4, out, 'mp4', {
        timeoutMs: 60_000,
        onProgress: (p) => progress.push(p.processedSec),
      });
    },
    { timeout: 90_000 },
  );

  test('duration is the sum of the snippets, as reported', { timeout: 60_000 }, async () => {
    const inputs = await Promise.all(mp4.map((f) => probeMedia(f)));
    const merged = await probeMedia(out);
    const frame = 1 / merged.video!.fps;
    const expected = sum(inputs.map((i) => i.video!.durationSec));
    assert.ok(
      Math.abs(merged.durationSec - expected) <= 2 * frame,
      `merged ${merged.durationSec} s, snippets ${expected} s`,
    );
    assert.ok(
      Math.abs(result.durationSec - merged.durationSec) <= 0.01,
      `reported ${result.durationSec} s, ffprobe ${merged.durationSec} s`,
    );
    assert.equal(result.bytes, (await stat(out)).size);
    assert.equal(progress.at(-1), result.durationSec);
  });

  test('H.264 Main as recorded, copied packet for packet', { timeout: 60_000 }, async () => {
    const first = await probeMedia(mp4[0]!);
    const merged = await probeMedia(out);
    assert.equal(merged.video!.codec, 'h264');
    assert.equal(merged.video!.profile, 'Main');
    assert.equal(merged.video!.width, first.video!.width);
    assert.equal(merged.video!.height, first.video!.height);
    assert.equal(merged.video!.width, 640);
    assert.equal(merged.video!.height, 360);
    assert.equal(merged.audio!.codec, 'aac');
    for (const kind of ['v', 'a'] as const) {
      const inputs = (await Promise.all(mp4.map((f) => packetSizes(f, kind)))).flat();
      assert.deepEqual(await packetSizes(out, kind), inputs, `${kind} packets differ`);
    }
  });

  test(
    'timestamps run on across the joins and A/V stays in sync',
    { timeout: 60_000 },
    async () => {
      const merged = await probeMedia(out);
      const frame = 1 / merged.video!.fps;
      const video = await packetTimes(out, 'v');
      const audio = await packetTimes(out, 'a');
      for (let i = 1; i < video.length; i++) {
        const step = video[i]!.ptsSec - video[i - 1]!.ptsSec;
        assert.ok(step > 0 && step <= 2 * frame, `video step ${step} s at ${video[i]!.ptsSec} s`);
      }
      for (let i = 1; i < audio.length; i++) {
        const gap = audio[i]!.ptsSec - (audio[i - 1]!.ptsSec + audio[i - 1]!.durationSec);
        assert.ok(
          audio[i]!.ptsSec > audio[i - 1]!.ptsSec,
          `audio goes back at ${audio[i]!.ptsSec}`,
        );
        assert.ok(gap <= 0.05, `audio gap ${gap} s at ${audio[i]!.ptsSec} s`);
      }
      // Where each snippet starts in the clip, its audio must lead or trail its video by exactly
      // what it did in the snippet.
      let v = 0;
      let a = 0;
      for (const f of mp4) {
        const [sv, sa]: [PacketTime[], PacketTime[]] = await Promise.all([
          packetTimes(f, 'v'),
          packetTimes(f, 'a'),
        ]);
        const inSnippet = sa[0]!.ptsSec - sv[0]!.ptsSec;
        const inClip = audio[a]!.ptsSec - video[v]!.ptsSec;
        assert.ok(
          Math.abs(inClip - inSnippet) <= 0.001,
          `${f}: audio-video ${inClip} s in the clip, ${inSnippet} s in the snippet`,
        );
        v += sv.length;
        a += sa.length;
      }
      assert.equal(v, video.length);
      assert.equal(a, audio.length);
    },
  );

  test('fast start: moov before mdat', { timeout: 30_000 }, async () => {
    const boxes = await topLevelBoxes(out);
    assert.equal(boxes[0], 'ftyp');
    assert.ok(boxes.indexOf('moov') >= 0, boxes.join(','));
    assert.ok(boxes.indexOf('moov') < boxes.indexOf('mdat'), boxes.join(','));
  });

  test('decodes without errors, and nothing else is left behind', { timeout: 60_000 }, async () => {
    assert.equal(await decodeErrors(out), '');
    assert.deepEqual(await readdir(outDir), ['clip.mp4']);
  });
});

describe('merging MP3 snippets', () => {
  let out = '';
  let outDir = '';
  let result = { durationSec: 0, bytes: 0 };

  before(
    async () => {
      outDir = await newDir('merge-out');
      out = join(outDir, 'clip.mp3');
      result = await mergeClip(mp3, out, 'mp3', { timeoutMs: 60_000 });
    },
    { timeout: 90_000 },
  );

  test('duration is the sum of the snippets, as reported', { timeout: 60_000 }, async () => {
    const inputs = await Promise.all(mp3.map((f) => probeMedia(f)));
    const merged = await probeMedia(out);
    const expected = sum(inputs.map((i) => i.durationSec));
    assert.ok(
      Math.abs(merged.durationSec - expected) <= 0.05,
      `merged ${merged.durationSec} s, snippets ${expected} s`,
    );
    assert.ok(Math.abs(result.durationSec - merged.durationSec) <= 0.05);
    assert.equal(result.bytes, (await stat(out)).size);
    assert.equal(merged.audio!.codec, 'mp3');
  });

  test(
    'the frames of every snippet in order, without their ID3 tags',
    { timeout: 30_000 },
    async () => {
      const inputs = await Promise.all(mp3.map((f) => readFile(f)));
      assert.ok(
        inputs.every((b) => b.toString('latin1', 0, 3) === 'ID3'),
        'snippets carry ID3v2',
      );
      const clip = await readFile(out);
      assert.ok(clip.equals(Buffer.concat(inputs.map(mp3Frames))), 'clip is not the joined frames');
    },
  );

  test('decodes without errors, and nothing else is left behind', { timeout: 60_000 }, async () => {
    assert.equal(await decodeErrors(out), '');
    assert.deepEqual(await readdir(outDir), ['clip.mp3']);
  });
});

describe('bad inputs', () => {
  let bad = '';
  let outDir = '';
  let out = '';

  before(async () => {
    bad = await newDir('merge-bad');
    outDir = await newDir('merge-bad-out');
    out = join(outDir, 'clip.mp4');
  });

  async function rejects(
    run: () => Promise<unknown>,
    reason: MergeError['reason'],
    message: RegExp,
  ): Promise<void> {
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof MergeError, String(e));
      assert.equal(e.reason, reason, e.message);
      assert.match(e.message, message);
      return true;
    });
    assert.deepEqual(await readdir(outDir), [], 'no output and no work files');
  }

  test('no inputs', { timeout: 10_000 }, async () => {
    await rejects(() => mergeClip([], out, 'mp4'), 'no-inputs', /no snippets/);
  });

  test('a missing input', { timeout: 10_000 }, async () => {
    const missing = join(bad, 'gone.mp4');
    await rejects(
      () => mergeClip([mp4[0]!, missing], out, 'mp4'),
      'missing-input',
      /snippet 2 .*gone\.mp4.* does not exist/,
    );
  });

  test('a garbage input', { timeout: 10_000 }, async () => {
    const garbage = join(bad, 'garbage.mp4');
    await writeFile(garbage, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 37) % 251)));
    await rejects(
      () => mergeClip([mp4[0]!, garbage], out, 'mp4'),
      'bad-input',
      /garbage\.mp4.* neither an MP4 nor an MP3/,
    );
  });

  test('a truncated MP4 input', { timeout: 10_000 }, async () => {
    const cut = join(bad, 'cut.mp4');
    const whole = await readFile(mp4[1]!);
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await rejects(
      () => mergeClip([mp4[0]!, cut], out, 'mp4'),
      'bad-input',
      /cut\.mp4.* is truncated/,
    );
  });

  test('a truncated MP3 input', { timeout: 10_000 }, async () => {
    const cut = join(bad, 'cut.mp3');
    const whole = await readFile(mp3[1]!);
    await writeFile(cut, whole.subarray(0, whole.length - 50));
    await rejects(
      () => mergeClip([mp3[0]!, cut], join(outDir, 'clip.mp3'), 'mp3'),
      'bad-input',
      /cut\.mp3.* is truncated/,
    );
  });

  test('the error names its reason, also between and under warnings', { timeout: 5_000 }, () => {
    const warn = (n: number) =>
      Array.from(
        { length: n },
        (_, i) =>
          `0:00:00.1210${String(i).padStart(5, '0')} 20756 0x55ad494872a0 WARN aggregator gstaggregator.c:2146:gst_aggregator_query_latency_unlocked:<mux> Latency query failed`,
      );
    const stderr = [
      ...warn(3),
      'ERROR: from element /GstPipeline:pipeline0/GstQTDemux:qtdemux1: Internal data stream error.',
      ...warn(2),
      'Additional debug info:',
      '../gst/isomp4/qtdemux.c(6619): gst_qtdemux_loop (): /GstPipeline:pipeline0/GstQTDemux:qtdemux1:',
      ...warn(1),
      'streaming stopped, reason not-negotiated (-4)',
      'ERROR: from element /GstPipeline:pipeline0/GstMP4Mux:mux: a later consequence',
      ...warn(40),
    ].join('\n');
    assert.equal(
      gstError(stderr),
      'Internal data stream error. (streaming stopped, reason not-negotiated (-4))',
    );
    assert.equal(gstError('ERROR: from element /x: Could not open file.'), 'Could not open file.');
    assert.equal(gstError(warn(5).join('\n')), 'no error message');
  });

  test('an MP4 input that GStreamer cannot decode', { timeout: 30_000 }, async () => {
    const broken = join(bad, 'broken.mp4');
    const bytes = Buffer.from(await readFile(mp4[1]!));
    const at = bytes.indexOf('avc1', 0, 'latin1');
    assert.ok(at > 0);
    bytes.write('zzzz', at, 'latin1');
    await writeFile(broken, bytes);
    await rejects(
      () => mergeClip([mp4[0]!, broken], out, 'mp4'),
      'merge-failed',
      /GStreamer could not merge[\s\S]*not-negotiated/,
    );
  });

  test(
    'MP4 snippets whose sound differs in channels, refused before merging',
    {
      timeout: 10_000,
    },
    async () => {
      // The same recording, its sound described as stereo: what a recording from before the
      // recordings went mono looks like next to one after.
      const stereo = join(bad, 'stereo.mp4');
      const bytes = Buffer.from(await readFile(mp4[1]!));
      const entry = bytes.indexOf('mp4a', 0, 'latin1');
      assert.ok(entry > 0);
      // After the type: 6 reserved, data reference, 8 reserved, then the channel count.
      assert.equal(bytes.readUInt16BE(entry + 4 + 16), 1, 'the recording is mono');
      bytes.writeUInt16BE(2, entry + 4 + 16);
      await writeFile(stereo, bytes);
      await rejects(
        () => mergeClip([mp4[0]!, stereo], out, 'mp4'),
        'bad-input',
        /snippet 2 .* has video\+audio \(2 channels at 48000 Hz\) where the first has video\+audio \(1 channel at 48000 Hz\)/,
      );
    },
  );

  test('mixed MP4 and MP3', { timeout: 10_000 }, async () => {
    await rejects(
      () => mergeClip([mp4[0]!, mp3[0]!], out, 'mp4'),
      'mixed-variants',
      /mixed variants: snippet 2 .* is MP3, the clip is MP4/,
    );
    await rejects(
      () => mergeClip([mp3[0]!, mp4[0]!], join(outDir, 'clip.mp3'), 'mp3'),
      'mixed-variants',
      /snippet 2 .* is MP4, the clip is MP3/,
    );
  });

  test('a merge that takes too long is killed', { timeout: 10_000 }, async () => {
    await rejects(
      () => mergeClip(mp4, out, 'mp4', { timeoutMs: 1 }),
      'timeout',
      /longer than 1 ms/,
    );
  });
});

describe('a recording stopped just after a cut', () => {
  let parts: string[] = [];
  let outDir = '';
  before(
    async () => {
      const dir = await newDir('merge-tail');
      outDir = await newDir('merge-tail-out');
      const { whole, tail } = await soundlessTail(dir);
      parts = [whole, tail];
      assert.ok((await probeMedia(tail)).video, 'the last part has its frames');
    },
    { timeout: 40_000 },
  );

  test('its last snippet is left out, not waited for', { timeout: 40_000 }, async () => {
    const out = join(outDir, 'clip.mp4');
    const merged = await mergeClip(parts, out, 'mp4', { timeoutMs: 20_000 });
    assert.deepEqual(merged.leftOut, [{ index: 1, why: 'its audio track has no samples' }]);
    const clip = await probeMedia(out);
    assert.ok(Math.abs(clip.video!.durationSec - 2) < 0.07, `video ${clip.video!.durationSec} s`);
    assert.equal(merged.durationSec.toFixed(1), '2.0');
    assert.equal(await decodeErrors(out), '');
  });

  test(
    'a tail with 43 ms of sound under 0.27 s of picture is left out too',
    { timeout: 40_000 },
    async () => {
      const dir = await newDir('merge-tail-short');
      const { whole, tail } = await soundlessTail(dir, 97);
      const out = join(dir, 'clip.mp4');
      const merged = await mergeClip([whole, tail], out, 'mp4', { timeoutMs: 20_000 });
      assert.equal(merged.leftOut.length, 1, JSON.stringify(merged.leftOut));
      assert.match(merged.leftOut[0]!.why, /^its tracks last 0\.0\d\d and 0\.267 s$/);
    },
  );

  test(
    'a tail whose sound runs 2 s past its picture is left out too; 0.9 s past, it is joined',
    { timeout: 60_000 },
    async () => {
      // 200 and 150 buffers of 1024 samples: 4.3 and 3.2 s of sound under 2.27 s of picture.
      const dir = await newDir('merge-tail-sound');
      const far = await soundlessTail(dir, 200);
      const merged = await mergeClip([far.whole, far.tail], join(dir, 'far.mp4'), 'mp4', {
        timeoutMs: 20_000,
      });
      assert.equal(merged.leftOut.length, 1, JSON.stringify(merged.leftOut));
      const [, sound, past] = /^its sound lasts ([\d.]+) s, ([\d.]+) s past its picture$/.exec(
        merged.leftOut[0]!.why,
      ) ?? [null, '0', '0'];
      assert.ok(Number(past) > 1.5 && Number(sound) > 2, merged.leftOut[0]!.why);
      assert.equal(merged.durationSec.toFixed(1), '2.0');

      const nearDir = await newDir('merge-tail-sound-near');
      const near = await soundlessTail(nearDir, 150);
      const whole = await mergeClip([near.whole, near.tail], join(nearDir, 'near.mp4'), 'mp4', {
        timeoutMs: 20_000,
      });
      assert.deepEqual(whole.leftOut, []);
      assert.ok(whole.durationSec > 3, `${whole.durationSec} s`);
      assert.equal(await decodeErrors(join(nearDir, 'near.mp4')), '');
    },
  );

  test(
    'an audio snippet of nothing but its ID3 tag is left out too',
    { timeout: 40_000 },
    async () => {
      const tagOnly = join(outDir, 'tag-only.mp3');
      await writeFile(tagOnly, Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0]));
      const out = join(outDir, 'clip.mp3');
      const merged = await mergeClip([mp3[0]!, tagOnly], out, 'mp3', { timeoutMs: 20_000 });
      assert.deepEqual(merged.leftOut, [{ index: 1, why: 'it has no audio frames' }]);
      const first = await probeMedia(mp3[0]!);
      assert.ok(
        Math.abs(merged.durationSec - first.audio!.durationSec) < 0.05,
        `${merged.durationSec} s against ${first.audio!.durationSec} s`,
      );
    },
  );

  test('a clip of nothing but such snippets is refused at once', { timeout: 20_000 }, async () => {
    const emptyDir = await newDir('merge-tail-none');
    const out = join(emptyDir, 'none.mp4');
    await assert.rejects(
      () => mergeClip([parts[1]!], out, 'mp4', { timeoutMs: 10_000 }),
      (e: unknown) =>
        e instanceof MergeError &&
        e.reason === 'bad-input' &&
        /no snippet can be joined: snippet 1 .* its audio track has no samples/.test(e.message),
    );
    assert.deepEqual(await readdir(emptyDir), [], 'no output and no work files');
  });
});

describe('a merge that GStreamer ends early', () => {
  // gst-launch-1.0 behind a script whose first calls join the first snippet only: what a merge
  // that ended early leaves, from the real elements.
  let bin = '';
  const path = process.env.PATH ?? '';
  before(async () => {
    bin = await newDir('merge-early-bin');
    const script = [
      '#!/bin/bash',
      'n=$(cat "$0.calls" 2>/dev/null || echo 0)',
      'echo $((n + 1)) > "$0.calls"',
      'if (( n < $(cat "$0.short") )); then set -- "${@/location=parts\\/\\*.mp4/location=parts/000000.mp4}"; fi',
      'exec /usr/bin/gst-launch-1.0 "$@"',
    ].join('\n');
    await writeFile(join(bin, 'gst-launch-1.0'), `${script}\n`, { mode: 0o755 });
    process.env.PATH = `${bin}:${path}`;
  });
  after(() => {
    process.env.PATH = path;
  });
  const shortFor = async (calls: number) => {
    await writeFile(join(bin, 'gst-launch-1.0.short'), String(calls));
    await rm(join(bin, 'gst-launch-1.0.calls'), { force: true });
  };
  const calls = async () => Number(await readFile(join(bin, 'gst-launch-1.0.calls'), 'utf8'));

  test('once: merged again, the clip is whole', { timeout: 60_000 }, async () => {
    await shortFor(1);
    const out = join(await newDir('merge-early-once'), 'clip.mp4');
    const merged = await mergeClip(mp4.slice(0, 2), out, 'mp4', { timeoutMs: 20_000 });
    assert.equal(await calls(), 2);
    const claimed = (await Promise.all(mp4.slice(0, 2).map(probeMedia))).reduce(
      (sum, p) => sum + p.durationSec,
      0,
    );
    assert.ok(
      Math.abs(merged.durationSec - claimed) < 0.2,
      `${merged.durationSec} of ${claimed} s`,
    );
    assert.equal(await decodeErrors(out), '');
  });

  test('twice: the snippets are blamed, and nothing is left', { timeout: 60_000 }, async () => {
    await shortFor(2);
    const dir = await newDir('merge-early-twice');
    await assert.rejects(
      () => mergeClip(mp4.slice(0, 2), join(dir, 'clip.mp4'), 'mp4', { timeoutMs: 20_000 }),
      (e: unknown) =>
        e instanceof MergeError &&
        e.reason === 'bad-input' &&
        /the merged clip is [\d.]+ s long but the snippets add up to [\d.]+ s/.test(e.message),
    );
    assert.equal(await calls(), 2);
    assert.deepEqual(await readdir(dir), [], 'no output and no work files');
  });
});
