import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskOffAir } from '../../src/domain/off-air-windows.ts';
import {
  DEFAULT_QUALITY_THRESHOLDS,
  scoreAudio,
  scoreVideo,
} from '../../src/domain/quality-rules.ts';

const T0 = 1_000_000;
const audio = (n: number, rmsDb: number) =>
  Array.from({ length: n }, (_, i) => ({
    atSec: i * 0.1,
    rmsDb,
    peakDb: rmsDb + 3,
    clippedShare: 0,
    hfRatio: 0.1,
  }));
const black = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    atSec: i * 0.5,
    lumaMean: 16,
    lumaStdDev: 0,
    lumaChange: 0,
  }));

test(
  'silence and black while off air are not impairments; what is left on air must be long enough on its own',
  { timeout: 5_000 },
  () => {
    const t = DEFAULT_QUALITY_THRESHOLDS;
    const m = { audio: audio(150, -90), video: black(30) };
    assert.ok(scoreAudio(m.audio, 15, t).reasons.length > 0);
    // Off air from 0 to 13.5 s: 1.5 s of silence remains, at the snippet's end: still reported.
    const late = maskOffAir(
      m,
      {
        audio: [{ startMs: T0, endMs: T0 + 13_500 }],
        video: [{ startMs: T0, endMs: T0 + 13_500 }],
      },
      T0,
    );
    assert.deepEqual(
      scoreAudio(late.audio, 15, t).reasons.map((r) => r.impairment),
      ['silence'],
    );
    // Off air for all but 1 s in the middle: too short anywhere.
    const middle = maskOffAir(
      m,
      {
        audio: [
          { startMs: T0, endMs: T0 + 7_000 },
          { startMs: T0 + 8_000, endMs: T0 + 15_000 },
        ],
        video: [
          { startMs: T0, endMs: T0 + 7_000 },
          { startMs: T0 + 8_000, endMs: T0 + 15_000 },
        ],
      },
      T0,
    );
    assert.deepEqual(scoreAudio(middle.audio, 15, t).reasons, []);
    assert.deepEqual(scoreVideo(middle.video!, 15, t).reasons, []);
    // Nothing off air: nothing changes.
    assert.deepEqual(maskOffAir(m, { audio: [], video: [] }, T0), m);
  },
);
