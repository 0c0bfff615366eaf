import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTimeline, TimelineError } from '../../src/media/timeline.ts';

const T = { timeout: 5_000 };

test('parses and sorts steps', T, () => {
  assert.deepEqual(parseTimeline('20:camera-off:2, 5:add,12.5:remove:1'), [
    { atSeconds: 5, action: 'add' },
    { atSeconds: 12.5, action: 'remove', host: 1 },
    { atSeconds: 20, action: 'camera-off', host: 2 },
  ]);
  assert.deepEqual(parseTimeline(''), []);
});

test('refuses malformed steps with the step in the message', T, () => {
  for (const bad of [
    'x:add',
    '5:jump:1',
    '5:remove',
    '-1:add',
    '5:camera-on:0',
    '5:add:1:2',
    ':add',
  ]) {
    assert.throws(
      () => parseTimeline(bad),
      (e: Error) => e instanceof TimelineError && e.message.includes(bad.split(',')[0]!),
    );
  }
});
