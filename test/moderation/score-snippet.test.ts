import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { DEFAULT_QUALITY_THRESHOLDS, scoreVideo } from '../../src/domain/quality-rules.ts';
import { measureSnippet, type SnippetMeasurements } from '../../src/moderation/measure.ts';
import { scoreSnippet, type Measure } from '../../src/moderation/score-snippet.ts';
import { impairedSnippet } from '../support/impaired-media.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const thresholds = DEFAULT_QUALITY_THRESHOLDS;

test(
  'a 2.2-s black stretch reads as 3 s a picture a second; scored again at two a second it is not flagged, while a 5-s one still is',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('score-snippet-');
    dirs.push(dir);
    // Black from 1.0 to 3.2 s (33 frames), with a recording's keyframe every third of a second.
    const short = await impairedSnippet(dir, 'black', 'none', 'mp4', 5, [15, 33, 177]);
    const coarse = await measureSnippet(short, { hasVideo: true, pictureSec: 1 });
    assert.equal(coarse.video?.length, 15);
    const coarseScore = scoreVideo(coarse.video!, coarse.durationSec, thresholds);
    // The premise: at 1, 2 and 3 s the picture is black, a run of 3 s.
    assert.deepEqual(
      coarseScore.reasons.map((r) => [r.impairment, r.fromSec, r.toSec]),
      [['black', 1, 4]],
    );
    const scored = await scoreSnippet(short, { hasVideo: true, thresholds });
    assert.equal(scored.pictureSec, 0.5);
    assert.deepEqual(scored.video?.reasons, []);
    assert.deepEqual(scored.audio.reasons, []);
    // The sum over both passes is proven with fixed figures below; a decoder's CPU time
    // depends on the machine, so here it only has to be counted.
    assert.ok(scored.decodeCpuSec > 0, JSON.stringify(scored));

    const long = await impairedSnippet(dir, 'black', 'none', 'mp4', 5);
    const flagged = await scoreSnippet(long, { hasVideo: true, thresholds });
    assert.deepEqual(
      flagged.video?.reasons.map((r) => r.impairment),
      ['black'],
    );
    const clean = await scoreSnippet(await impairedSnippet(dir, 'none', 'none', 'mp4', 5), {
      hasVideo: true,
      thresholds,
    });
    assert.equal(clean.pictureSec, 1);
    assert.deepEqual(clean.video?.reasons, []);
  },
);

/** Pictures at the given interval, black where `black(atSec)`, moving elsewhere. */
function pictures(pictureSec: number, black: (atSec: number) => boolean): SnippetMeasurements {
  const video = Array.from({ length: Math.round(15 / pictureSec) }, (_, i) => {
    const atSec = i * pictureSec;
    return black(atSec)
      ? { atSec, lumaMean: 16, lumaStdDev: 0, lumaChange: 0 }
      : { atSec, lumaMean: 100, lumaStdDev: 60, lumaChange: 30 };
  });
  const audio = Array.from({ length: 150 }, (_, i) => ({
    atSec: i / 10,
    rmsDb: -20,
    peakDb: -10,
    clippedShare: 0,
    hfRatio: 0.1,
  }));
  return { durationSec: 15, audio, video, decodeCpuSec: 0.01 };
}

test('only a snippet with a picture finding is measured a second time, and adjust applies to both', async () => {
  const calls: number[] = [];
  const fake =
    (black: (atSec: number) => boolean): Measure =>
    async (_file, o) => {
      calls.push(o.pictureSec);
      return pictures(o.pictureSec, black);
    };
  const clean = await scoreSnippet('x.mp4', {
    hasVideo: true,
    thresholds,
    measure: fake(() => false),
  });
  assert.deepEqual(calls, [1]);
  assert.equal(clean.video?.score, 100);

  calls.length = 0;
  const black = (t: number) => t >= 5 && t < 9;
  const found = await scoreSnippet('x.mp4', { hasVideo: true, thresholds, measure: fake(black) });
  assert.deepEqual(calls, [1, 0.5]);
  assert.deepEqual(
    found.video?.reasons.map((r) => [r.impairment, r.fromSec, r.toSec]),
    [['black', 5, 9]],
  );
  assert.equal(found.decodeCpuSec, 0.02);

  // Off air from 4 to 10 s: the finding is masked away in both passes.
  calls.length = 0;
  const masked = await scoreSnippet('x.mp4', {
    hasVideo: true,
    thresholds,
    measure: fake(black),
    adjust: (m) => ({ ...m, video: m.video!.filter((w) => w.atSec < 4 || w.atSec >= 10) }),
  });
  assert.deepEqual(masked.video?.reasons, []);
  assert.deepEqual(calls, [1]);
});
