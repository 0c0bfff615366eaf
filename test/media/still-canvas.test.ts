import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StillCanvas, stillForWantOfPicture } from '../../src/media/worker/still-canvas.ts';

test('a canvas stands still for want of a picture only while one is awaited and none shows', () => {
  assert.equal(stillForWantOfPicture([]), false);
  assert.equal(stillForWantOfPicture(['awaited']), true);
  assert.equal(stillForWantOfPicture(['awaited', 'camera-off', 'awaited']), true);
  // Another host's picture moves the canvas: what scoring sees there is that host's.
  assert.equal(stillForWantOfPicture(['awaited', 'picture']), false);
  // Cameras off are the hosts' own doing, and the host events say so.
  assert.equal(stillForWantOfPicture(['camera-off', 'camera-off']), false);
  assert.equal(stillForWantOfPicture(['picture']), false);
});

test('each still stretch is told once, when it ends, from its first layout to its last', () => {
  const canvas = new StillCanvas();
  assert.equal(canvas.update(1_000, false), null);
  assert.equal(canvas.update(2_000, true), null);
  // A second host joins and waits too: the same stretch goes on.
  assert.equal(canvas.update(2_500, true), null);
  assert.deepEqual(canvas.update(5_200, false), { fromMs: 2_000, toMs: 5_200 });
  assert.equal(canvas.update(6_000, false), null);
  assert.equal(canvas.update(7_000, true), null);
  assert.deepEqual(canvas.update(7_400, false), { fromMs: 7_000, toMs: 7_400 });
});

test('a stretch still open when the recording ends is told then, and an empty one never', () => {
  const canvas = new StillCanvas();
  canvas.update(3_000, true);
  assert.deepEqual(canvas.end(4_000), { fromMs: 3_000, toMs: 4_000 });
  assert.equal(canvas.end(5_000), null);
  canvas.update(6_000, true);
  assert.equal(canvas.update(6_000, false), null);
});
