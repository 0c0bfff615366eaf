import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { CloudEvent } from '../../src/domain/cloudevent.ts';
import { DEFAULT_QUALITY_THRESHOLDS, scoreVideo } from '../../src/domain/quality-rules.ts';
import type { SnippetReady } from '../../src/domain/snippet-event.ts';
import { measureSnippet } from '../../src/moderation/measure.ts';
import { scoreSnippet } from '../../src/moderation/score-snippet.ts';
import { probeMedia } from '../support/ffprobe.ts';
import { storedSnippets, tapedeck, tempDir } from '../support/tapedeck.ts';

/**
 * A host recording's pictures, measured as recorded and sent with each snippet's event: the
 * scrolling test picture changes between every two of them, the placeholder shown while the
 * camera is off does not, and they say what decoding the stored file says.
 */
const T = { timeout: 180_000 };
const FPS = 15;
let out = '';
let events: SnippetReady[] = [];
let files: string[] = [];

before(async () => {
  out = await tempDir('pictures');
  const r = await tapedeck(
    [
      'record',
      '--kind',
      'host',
      '--duration',
      '17',
      '--snippet-seconds',
      '5',
      '--timeline',
      '6:camera-off:1,12:camera-on:1',
      '--out',
      out,
      '--json',
    ],
    { timeoutMs: 150_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const tail = await tapedeck(
    ['events', 'tail', '--out', out, '--from-start', '--count', '4', '--timeout', '30', '--json'],
    { timeoutMs: 60_000 },
  );
  assert.equal(tail.code, 0, tail.stderr);
  events = tail.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as CloudEvent<SnippetReady>).data)
    .filter((d) => d?.key !== undefined)
    .sort((a, b) => a.seq - b.seq);
  files = await storedSnippets(out, 'host-h1', 'mp4');
}, T);

after(() => rm(out, { recursive: true, force: true }));

test('every snippet carries two pictures a second, inside its own time', T, () => {
  assert.equal(events.length, 4, `${events.length} snippet events`);
  for (const e of events) {
    const pictures = e.pictures;
    assert.ok(pictures, `snippet ${e.seq} has no pictures`);
    const expected = (e.durationMs / 1000) * 2;
    assert.ok(
      Math.abs(pictures.length - expected) <= 1,
      `snippet ${e.seq}: ${pictures.length} pictures in ${e.durationMs} ms`,
    );
    assert.equal(pictures[0]!.atSec, 0, 'the first picture is the snippet keyframe');
    for (const [i, w] of pictures.entries()) {
      assert.ok(w.atSec < e.durationMs / 1000, `picture ${i} of snippet ${e.seq} at ${w.atSec} s`);
      if (i > 0) {
        const step = w.atSec - pictures[i - 1]!.atSec;
        assert.ok(step > 0.4 && step < 0.6, `picture step ${step} s`);
      }
    }
  }
});

test('the recording itself keeps its frame rate beside the pictures', T, async () => {
  for (const f of files) {
    const media = await probeMedia(f);
    assert.equal(media.video?.fps, FPS, `${f}: ${media.video?.fps} fps`);
  }
});

test('still while the camera is off, moving while it is on', T, () => {
  // Snippet 1 is 5 to 10 s: the camera goes off at 6 s (recording time). Snippet 2 is 10 to 15 s:
  // on again at 12 s. Each change takes effect a moment later, so a second around it is skipped.
  const at = (seq: number) => events.find((e) => e.seq === seq)!.pictures!;
  const moving = [...at(0).slice(1), ...at(1).filter((w) => w.atSec < 0.9)];
  const still = [
    ...at(1).filter((w) => w.atSec > 2.5),
    ...at(2).filter((w) => w.atSec > 0 && w.atSec < 1.8),
  ];
  assert.ok(still.length >= 8, `${still.length} pictures of the placeholder`);
  for (const w of moving) assert.ok(w.lumaChange > 2, `moving picture ${JSON.stringify(w)}`);
  for (const w of still) assert.ok(w.lumaChange < 0.5, `still picture ${JSON.stringify(w)}`);
  const frozen = scoreVideo(at(1), 5, DEFAULT_QUALITY_THRESHOLDS).reasons;
  assert.deepEqual(
    frozen.map((r) => r.impairment),
    ['frozen'],
    'a placeholder held for 3 s reads as a still picture (scoring masks it by presence)',
  );
});

test('they say what decoding the stored snippet says', T, async () => {
  for (const e of events.filter((x) => x.durationMs >= 5000)) {
    const file = files.find((f) => f.endsWith(`_${String(e.seq).padStart(6, '0')}.mp4`))!;
    const decoded = await measureSnippet(file, { hasVideo: true, pictureSec: 0.5 });
    for (const d of decoded.video!) {
      // The recorded picture nearest the decoded one's time (they may differ by a frame).
      const near = e.pictures!.reduce((a, b) =>
        Math.abs(b.atSec - d.atSec) < Math.abs(a.atSec - d.atSec) ? b : a,
      );
      assert.ok(
        Math.abs(near.atSec - d.atSec) < 0.1,
        `snippet ${e.seq}: ${d.atSec} s against ${near.atSec} s`,
      );
      assert.ok(
        Math.abs(near.lumaMean - d.lumaMean) < 4 && Math.abs(near.lumaStdDev - d.lumaStdDev) < 4,
        `snippet ${e.seq} at ${d.atSec} s: recorded ${JSON.stringify(near)}, decoded ${JSON.stringify(d)}`,
      );
    }
  }
});

test('scoring uses the recorded pictures and decodes the sound only', T, async () => {
  const e = events[0]!;
  const recorded = await scoreSnippet(files[0]!, {
    hasVideo: true,
    thresholds: DEFAULT_QUALITY_THRESHOLDS,
    pictures: e.pictures!,
  });
  const decoded = await scoreSnippet(files[0]!, {
    hasVideo: true,
    thresholds: DEFAULT_QUALITY_THRESHOLDS,
  });
  assert.equal(recorded.picturesFrom, 'recording');
  assert.equal(decoded.picturesFrom, 'file');
  assert.deepEqual(recorded.video, decoded.video, 'the same finding either way');
  assert.deepEqual(recorded.audio, decoded.audio);
});
