import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostEvent } from '../../src/domain/host-presence.ts';
import {
  afterLastSeq,
  applyHostEvent,
  hostRecordingId,
  hostVariant,
  initialHostView,
  nodeTaskQueue,
  workerTaskQueue,
  workflowIds,
} from '../../src/domain/recording-plan.ts';

const ev = (type: HostEvent['type'], at: number): HostEvent => ({
  type,
  hostId: 'ana',
  at,
  cause: 'publish',
});

test('a host is recorded in MP4 while its camera is on, MP3 while off, not at all while away', () => {
  let v = initialHostView('ana');
  assert.equal(hostVariant(v), null);
  v = applyHostEvent(v, ev('joined', 1));
  assert.equal(hostVariant(v), 'mp4');
  v = applyHostEvent(v, ev('camera-off', 2));
  assert.equal(hostVariant(v), 'mp3');
  // A drop keeps the format through the grace period: no cut for a short hiccup.
  v = applyHostEvent(v, ev('dropped', 3));
  assert.equal(hostVariant(v), 'mp3');
  v = applyHostEvent(v, ev('resumed', 4));
  v = applyHostEvent(v, ev('camera-on', 5));
  assert.equal(hostVariant(v), 'mp4');
  v = applyHostEvent(v, ev('left', 6));
  assert.equal(hostVariant(v), null);
  assert.equal(v.at, 6);
  // Joining again starts with camera and microphone on.
  v = applyHostEvent(v, ev('joined', 7));
  assert.deepEqual([v.present, v.cameraOn, v.microphoneOn], [true, true, true]);
});

test('an event from the past does not move the clock back', () => {
  const v = applyHostEvent(
    applyHostEvent(initialHostView('ana'), ev('joined', 10)),
    ev('camera-off', 5),
  );
  assert.equal(v.at, 10);
});

test('ids and queues follow from livestream, host and node ids, and refuse bad ones', () => {
  assert.equal(workflowIds.livestream('show'), 'tapedeck-livestream-show');
  assert.equal(workflowIds.composite('show'), 'tapedeck-livestream-show-composite');
  assert.equal(workflowIds.host('show', 'ana'), 'tapedeck-livestream-show-host-ana');
  assert.equal(hostRecordingId('ana', 'mp3'), 'host-ana-mp3');
  assert.equal(nodeTaskQueue('n1'), 'tapedeck-media-n1');
  assert.equal(workerTaskQueue('n1', 1), 'tapedeck-media-n1-w1');
  assert.throws(() => nodeTaskQueue('a/b'));
  // A 64-character host id still gives a usable recording id.
  assert.equal(hostRecordingId('x'.repeat(64), 'mp4').length, 64);
});

test('snippet numbering goes on after the highest number a variant used', () => {
  let next = { mp4: 0, mp3: 0 };
  next = afterLastSeq(next, 'mp4', 4);
  assert.deepEqual(next, { mp4: 5, mp3: 0 });
  next = afterLastSeq(next, 'mp4', null);
  assert.deepEqual(next, { mp4: 5, mp3: 0 });
  // A stale report never moves numbering back.
  next = afterLastSeq(next, 'mp4', 2);
  assert.deepEqual(next, { mp4: 5, mp3: 0 });
});
