import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AudioWindow,
  badRuns,
  DEFAULT_QUALITY_THRESHOLDS,
  needsReview,
  QualityThresholdError,
  qualityThresholds,
  scoreAudio,
  scoreVideo,
  type VideoWindow,
} from '../../src/domain/quality-rules.ts';

const STEP = 0.5;
const DURATION = 15;

/** Windows every 0.5 s over a 15-s snippet, each made by `at(seconds)`. */
function windows<W>(at: (sec: number) => Omit<W, 'atSec'>): W[] {
  const out: W[] = [];
  for (let s = 0; s < DURATION - 1e-9; s += STEP) out.push({ atSec: s, ...at(s) } as W);
  return out;
}

const TONE = { rmsDb: -13, peakDb: -10, clippedShare: 0 };
const SILENCE = { rmsDb: -Infinity, peakDb: -Infinity, clippedShare: 0 };
const CLIPPED = { rmsDb: -2, peakDb: 0, clippedShare: 0.6 };
// Lossy coding lets noise overshoot full scale now and then: a few samples, not clipping.
const NOISE = { rmsDb: -7, peakDb: 0.5, clippedShare: 0.01 };
const MOVING = { lumaMean: 120, lumaStdDev: 50, lumaChange: 8 };
const STILL = { lumaMean: 120, lumaStdDev: 50, lumaChange: 0 };
const BLACK = { lumaMean: 16, lumaStdDev: 0, lumaChange: 0 };

const during =
  <T>(from: number, to: number, bad: T, good: T) =>
  (s: number) =>
    s >= from && s < to ? bad : good;

test('clean audio and video score 100 and need no review', () => {
  const audio = scoreAudio(
    windows<AudioWindow>(() => TONE),
    DURATION,
  );
  const video = scoreVideo(
    windows<VideoWindow>(() => MOVING),
    DURATION,
  );
  assert.deepEqual(audio, { score: 100, reasons: [] });
  assert.deepEqual(video, { score: 100, reasons: [] });
  assert.equal(needsReview({ audio, video }), false);
});

test('each impairment of 3 s inside a snippet is found, with its range, and sends it to review', () => {
  const cases = [
    ['silence', () => scoreAudio(windows<AudioWindow>(during(5, 8, SILENCE, TONE)), DURATION)],
    ['clipping', () => scoreAudio(windows<AudioWindow>(during(5, 8, CLIPPED, TONE)), DURATION)],
    ['noise', () => scoreAudio(windows<AudioWindow>(during(5, 8, NOISE, TONE)), DURATION)],
    ['black', () => scoreVideo(windows<VideoWindow>(during(5, 8, BLACK, MOVING)), DURATION)],
    ['frozen', () => scoreVideo(windows<VideoWindow>(during(5.5, 8, STILL, MOVING)), DURATION)],
  ] as const;
  for (const [impairment, run] of cases) {
    const s = run();
    assert.deepEqual(s.reasons, [{ impairment, fromSec: 5, toSec: 8 }], impairment);
    assert.ok(s.score < DEFAULT_QUALITY_THRESHOLDS.reviewBelow, `${impairment}: ${s.score}`);
  }
});

test('shorter runs inside a snippet are not impairments', () => {
  const audio = scoreAudio(windows<AudioWindow>(during(5, 7.5, SILENCE, TONE)), DURATION);
  const video = scoreVideo(windows<VideoWindow>(during(5, 7.5, BLACK, MOVING)), DURATION);
  assert.equal(audio.score, 100);
  assert.equal(video.score, 100);
});

test('a run at the edge counts from half the length: a 3-s impairment cut by a boundary is found', () => {
  // 1.5 s at the end of this snippet, 1.5 s at the start of the next.
  const end = scoreAudio(windows<AudioWindow>(during(13.5, 15, SILENCE, TONE)), DURATION);
  const start = scoreVideo(windows<VideoWindow>(during(0, 1.5, BLACK, MOVING)), DURATION);
  assert.deepEqual(end.reasons, [{ impairment: 'silence', fromSec: 13.5, toSec: 15 }]);
  assert.deepEqual(start.reasons, [{ impairment: 'black', fromSec: 0, toSec: 1.5 }]);
  const short = scoreAudio(windows<AudioWindow>(during(14, 15, SILENCE, TONE)), DURATION);
  assert.equal(short.score, 100);
});

test('the longer the impairment, the lower the score; a wholly black snippet scores 0', () => {
  const s3 = scoreVideo(windows<VideoWindow>(during(5, 8, BLACK, MOVING)), DURATION).score;
  const s10 = scoreVideo(windows<VideoWindow>(during(2, 12, BLACK, MOVING)), DURATION).score;
  const all = scoreVideo(
    windows<VideoWindow>(() => BLACK),
    DURATION,
  );
  assert.ok(s10 < s3, `${s10} < ${s3}`);
  assert.equal(all.score, 0);
  assert.deepEqual(all.reasons, [{ impairment: 'black', fromSec: 0, toSec: 15 }]);
});

test('a black picture is black, not also frozen; loud clipping is clipping, not also noise', () => {
  const video = scoreVideo(windows<VideoWindow>(during(3, 9, BLACK, MOVING)), DURATION);
  assert.deepEqual(
    video.reasons.map((r) => r.impairment),
    ['black'],
  );
  const audio = scoreAudio(windows<AudioWindow>(during(3, 9, CLIPPED, TONE)), DURATION);
  assert.deepEqual(
    audio.reasons.map((r) => r.impairment),
    ['clipping'],
  );
});

test('an audio-only snippet needs review only for its audio', () => {
  const audio = scoreAudio(windows<AudioWindow>(during(0, 15, SILENCE, TONE)), DURATION);
  assert.equal(needsReview({ audio, video: null }), true);
  assert.equal(
    needsReview({
      audio: scoreAudio(
        windows<AudioWindow>(() => TONE),
        DURATION,
      ),
      video: null,
    }),
    false,
  );
});

test('badRuns gives each run of bad windows as [from, to), the last one ending at the end', () => {
  const w = [0, 1, 2, 3, 4].map((atSec) => ({ atSec }));
  assert.deepEqual(
    badRuns(w, (x) => x.atSec === 1 || x.atSec === 2 || x.atSec === 4, 5),
    [
      { fromSec: 1, toSec: 3 },
      { fromSec: 4, toSec: 5 },
    ],
  );
  assert.deepEqual(
    badRuns([], () => true, 5),
    [],
  );
});

test('thresholds: defaults filled in, and every bad value named', () => {
  assert.equal(qualityThresholds({ reviewBelow: 40 }).reviewBelow, 40);
  assert.equal(qualityThresholds().minRunSec, 3);
  assert.throws(
    () => qualityThresholds({ minRunSec: 0, reviewBelow: 101, blackLumaMean: -1 }),
    (e: Error) =>
      e instanceof QualityThresholdError &&
      /minRunSec/.test(e.message) &&
      /reviewBelow/.test(e.message) &&
      /blackLumaMean/.test(e.message),
  );
});

test(
  'with the high-frequency share measured, a loud mix is not noise; broadband sound is',
  { timeout: 5_000 },
  () => {
    const t = DEFAULT_QUALITY_THRESHOLDS;
    const loudMix = windows<AudioWindow>(() => ({
      rmsDb: -8,
      peakDb: -1,
      clippedShare: 0,
      hfRatio: 0.12,
    }));
    assert.deepEqual(scoreAudio(loudMix, DURATION, t).reasons, []);
    const hiss = windows<AudioWindow>(() => ({
      rmsDb: -15,
      peakDb: -3,
      clippedShare: 0,
      hfRatio: 0.56,
    }));
    assert.deepEqual(
      scoreAudio(hiss, DURATION, t).reasons.map((r) => r.impairment),
      ['noise'],
    );
  },
);
