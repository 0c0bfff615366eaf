import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HoldUp } from '../../src/media/worker/hold-up.ts';

test('a timer on time, or a little late, is no hold-up', { timeout: 5_000 }, () => {
  const h = new HoldUp(1_000, 500);
  assert.equal(h.tick(10_000), null);
  assert.equal(h.tick(11_000), null);
  assert.equal(h.tick(12_499), null);
  assert.equal(h.tick(13_499), null);
});

test(
  'a tick late by the threshold or more is a hold-up, told as the middle of what it can have been',
  { timeout: 5_000 },
  () => {
    const h = new HoldUp(1_000, 500);
    h.tick(10_000);
    // 1.7 s late: held for over 1.7 s and at most 2.7 s.
    assert.deepEqual(h.tick(12_700), { fromMs: 10_500, ms: 2_200, withinMs: 500 });
    // Measured afresh from the late tick.
    assert.equal(h.tick(13_700), null);
    assert.deepEqual(h.tick(15_200), { fromMs: 14_200, ms: 1_000, withinMs: 500 });
  },
);

test('every stop of a given length is told within half a period of it', { timeout: 5_000 }, () => {
  const period = 1_000;
  for (const stopMs of [600, 1_500, 4_000])
    for (let phase = 0; phase < period; phase += 50) {
      // Ticks at 0, 1000, …; the process stops from `phase` for stopMs, and the tick due at
      // 1000 runs on time or, if the stop covers it, when the process resumes.
      const h = new HoldUp(period, 500);
      h.tick(0);
      const resumed = phase + stopMs;
      const told = h.tick(Math.max(resumed, period));
      if (resumed - period < 500) {
        assert.equal(told, null, `a ${stopMs}-ms stop from ${phase} ms, late by under 500 ms`);
        continue;
      }
      assert.ok(told, `a ${stopMs}-ms stop from ${phase} ms`);
      assert.ok(Math.abs(told.ms - stopMs) <= told.withinMs, `${stopMs} told as ${told.ms}`);
      assert.ok(
        Math.abs(told.fromMs - phase) <= told.withinMs,
        `from ${phase} told ${told.fromMs}`,
      );
    }
});

test(
  'a hold-up before the first tick is told, from when the timer was set',
  { timeout: 5_000 },
  () => {
    const h = new HoldUp(1_000, 500, 10_000);
    assert.deepEqual(h.tick(12_700), { fromMs: 10_500, ms: 2_200, withinMs: 500 });
    assert.equal(new HoldUp(1_000, 500, 10_000).tick(11_000), null);
  },
);

test('bad settings are refused', { timeout: 5_000 }, () => {
  assert.throws(() => new HoldUp(0, 500), RangeError);
  assert.throws(() => new HoldUp(1_000, -1), RangeError);
});
