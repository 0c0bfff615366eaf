import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameLoss } from '../../src/media/worker/frame-loss.ts';

test('frame loss: each growth is told once, with the total', { timeout: 5_000 }, () => {
  const loss = new FrameLoss();
  assert.deepEqual(loss.news(0), []);
  assert.deepEqual(loss.news(1), [
    '1 video frame repeating an earlier timestamp dropped before the encoder (1 in all)',
  ]);
  assert.deepEqual(loss.news(1), [], 'nothing new');
  loss.lateFrame('vmix');
  loss.lateFrame('vmix');
  loss.lateFrame('in_a_dec');
  assert.deepEqual(loss.news(3), [
    '2 video frames repeating an earlier timestamp dropped before the encoder (3 in all)',
    'vmix dropped 2 video frames as late (2 in all)',
    'in_a_dec dropped 1 video frame as late (1 in all)',
  ]);
  loss.lateFrame('vmix');
  assert.deepEqual(loss.news(), ['vmix dropped 1 video frame as late (3 in all)'], 'at EOS');
});
