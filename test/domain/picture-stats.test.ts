import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PICTURE_PIXELS, pictureStats, roundWindow } from '../../src/domain/picture-stats.ts';

const T = { timeout: 5_000 };

test('a flat picture has its level for mean and no spread', T, () => {
  const grey = new Uint8Array(PICTURE_PIXELS).fill(40);
  assert.deepEqual(pictureStats(grey, null), { lumaMean: 40, lumaStdDev: 0, lumaChange: 0 });
});

test('spread and change are measured against the picture before', T, () => {
  // Half the pixels at 0 and half at 200: mean 100, standard deviation 100.
  const half = new Uint8Array(PICTURE_PIXELS).map((_, i) => (i % 2 ? 200 : 0));
  const s = pictureStats(half, null);
  assert.equal(s.lumaMean, 100);
  assert.equal(s.lumaStdDev, 100);
  assert.equal(s.lumaChange, 0, 'nothing to compare the first picture with');
  // The same picture shifted by one pixel: every pixel changes by 200.
  const shifted = new Uint8Array(PICTURE_PIXELS).map((_, i) => (i % 2 ? 0 : 200));
  assert.equal(pictureStats(shifted, half).lumaChange, 200);
  assert.equal(pictureStats(half, half).lumaChange, 0, 'a still picture does not change');
});

test('pictures of different sizes or none are refused', T, () => {
  assert.throws(() => pictureStats(new Uint8Array(0), null), RangeError);
  assert.throws(() => pictureStats(new Uint8Array(4), new Uint8Array(5)), RangeError);
});

test('a window is rounded for an event, finer than any threshold', T, () => {
  assert.deepEqual(
    roundWindow({ atSec: 0.5333333, lumaMean: 12.3456, lumaStdDev: 0.004, lumaChange: 1.995 }),
    { atSec: 0.533, lumaMean: 12.35, lumaStdDev: 0, lumaChange: 2 },
  );
});
