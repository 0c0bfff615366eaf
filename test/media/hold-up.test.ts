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
  'a tick late by the threshold or more is a hold-up, dated from when it was due',
  { timeout: 5_000 },
  () => {
    const h = new HoldUp(1_000, 500);
    h.tick(10_000);
    assert.deepEqual(h.tick(12_700), { fromMs: 11_000, ms: 1_700 });
    // Measured afresh from the late tick.
    assert.equal(h.tick(13_700), null);
    assert.deepEqual(h.tick(15_200), { fromMs: 14_700, ms: 500 });
  },
);

test('bad settings are refused', { timeout: 5_000 }, () => {
  assert.throws(() => new HoldUp(0, 500), RangeError);
  assert.throws(() => new HoldUp(1_000, -1), RangeError);
});
