import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gapCloudEvent, gapEventProblems, GAP_EVENT_TYPE } from '../../src/domain/gap-event.ts';

const gap = {
  livestreamId: 'show',
  track: 'host-ana',
  lostRecordingId: 'host-ana-mp4',
  nextRecordingId: 'host-ana-mp4',
  fromMs: Date.UTC(2026, 10, 30, 12, 0, 0),
  toMs: Date.UTC(2026, 10, 30, 12, 0, 3, 500),
  reason: 'worker died',
};

test('a gap is a CloudEvent with its time range and a stable id', () => {
  const e = gapCloudEvent(gap);
  assert.equal(e.type, GAP_EVENT_TYPE);
  assert.equal(e.data.from, '2026-11-30T12:00:00.000Z');
  assert.equal(e.data.to, '2026-11-30T12:00:03.500Z');
  assert.equal(e.data.durationMs, 3500);
  assert.equal(gapCloudEvent(gap).id, e.id);
  assert.notEqual(gapCloudEvent({ ...gap, fromMs: gap.fromMs + 1 }).id, e.id);
  assert.deepEqual(gapEventProblems(e), []);
});

test('a gap that ends before it starts, or names a bad track, is refused', () => {
  assert.throws(() => gapCloudEvent({ ...gap, toMs: gap.fromMs - 1 }));
  assert.throws(() => gapCloudEvent({ ...gap, track: 'a/b' }));
  const e = gapCloudEvent(gap);
  assert.match(gapEventProblems({ ...e, data: { ...e.data, durationMs: 1 } }).join(), /durationMs/);
});
