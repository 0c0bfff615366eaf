import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HELD_UP_EVENT_TYPE,
  heldUpCloudEvent,
  heldUpEventProblems,
  heldUpRange,
} from '../../src/domain/held-up-event.ts';

const held = {
  livestreamId: 'show',
  track: 'host-ana',
  recordingId: 'host-ana-mp4',
  fromMs: Date.UTC(2026, 11, 6, 12, 0, 0) + 250.4,
  toMs: Date.UTC(2026, 11, 6, 12, 0, 3) + 750.6,
  withinMs: 500,
};

test('a hold-up is a CloudEvent with its time range, its uncertainty and a stable id', () => {
  const e = heldUpCloudEvent(held);
  assert.equal(e.type, HELD_UP_EVENT_TYPE);
  assert.equal(e.subject, 'show/host-ana');
  assert.equal(e.data.from, '2026-12-06T12:00:00.250Z');
  assert.equal(e.data.to, '2026-12-06T12:00:03.751Z');
  assert.equal(e.data.durationMs, 3501);
  assert.equal(e.data.withinMs, 500);
  assert.equal(heldUpCloudEvent(held).id, e.id);
  assert.notEqual(heldUpCloudEvent({ ...held, recordingId: 'host-ana-mp4-2' }).id, e.id);
  assert.deepEqual(heldUpEventProblems(e), []);
});

test('scoring leaves out the hold-up widened by its uncertainty on both sides', () => {
  const r = heldUpRange(heldUpCloudEvent(held).data);
  assert.equal(r.startMs, Date.UTC(2026, 11, 6, 11, 59, 59, 750));
  assert.equal(r.endMs, Date.UTC(2026, 11, 6, 12, 0, 4, 251));
  assert.equal(r.media, 'both');
});

test('a hold-up of the picture alone says so, and is another event than one of both', () => {
  const e = heldUpCloudEvent({ ...held, media: 'picture' });
  assert.equal(e.data.media, 'picture');
  assert.deepEqual(heldUpEventProblems(e), []);
  assert.equal(heldUpRange(e.data).media, 'picture');
  assert.notEqual(e.id, heldUpCloudEvent(held).id);
  assert.equal('media' in heldUpCloudEvent(held).data, false);
  assert.match(
    heldUpEventProblems({ ...e, data: { ...e.data, media: 'sound' } }).join(),
    /data\.media/,
  );
});

test('a hold-up that does not end after it starts, or names a bad track, is refused', () => {
  assert.throws(() => heldUpCloudEvent({ ...held, toMs: held.fromMs }), /ends after/);
  assert.throws(() => heldUpCloudEvent({ ...held, track: 'a/b' }));
  const e = heldUpCloudEvent(held);
  assert.match(
    heldUpEventProblems({ ...e, data: { ...e.data, durationMs: 1 } }).join(),
    /durationMs/,
  );
  assert.match(heldUpEventProblems({ ...e, data: { ...e.data, withinMs: -1 } }).join(), /withinMs/);
  assert.match(heldUpEventProblems({ ...e, type: 'tapedeck.recording.gap' }).join(), /type/);
});
