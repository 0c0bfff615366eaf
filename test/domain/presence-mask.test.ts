import assert from 'node:assert/strict';
import { test } from 'node:test';
import { offAirRanges, type PresenceChange, withHeldUp } from '../../src/domain/presence-mask.ts';

const T = (s: number) => 1_000_000 + s * 1000;
const R = (a: number, b: number) => ({ startMs: T(a), endMs: T(b) });
const c = (hostId: string, change: PresenceChange['change'], s: number): PresenceChange => ({
  hostId,
  change,
  atMs: T(s),
});

test(
  'the composite is off air before the first host joins and after the last one leaves',
  { timeout: 5_000 },
  () => {
    const changes = [
      c('h1', 'joined', 3),
      c('h2', 'joined', 5),
      c('h1', 'left', 40),
      c('h2', 'left', 42),
    ];
    assert.deepEqual(offAirRanges(changes, 'composite', R(0, 15)), {
      audio: [R(0, 3)],
      video: [R(0, 3)],
    });
    assert.deepEqual(offAirRanges(changes, 'composite', R(15, 30)), { audio: [], video: [] });
    assert.deepEqual(offAirRanges(changes, 'composite', R(30, 45)), {
      audio: [R(42, 45)],
      video: [R(42, 45)],
    });
  },
);

test(
  'a host track follows its own host only: dropped, resumed, microphone and camera',
  { timeout: 5_000 },
  () => {
    const changes = [
      c('h2', 'joined', 0),
      c('h1', 'joined', 1),
      c('h1', 'microphone-off', 4),
      c('h1', 'microphone-on', 6),
      c('h1', 'dropped', 8),
      c('h1', 'resumed', 9),
      c('h1', 'camera-off', 12),
    ];
    assert.deepEqual(offAirRanges(changes, 'host-h1', R(0, 15)), {
      audio: [R(0, 1), R(4, 6), R(8, 9)],
      video: [R(0, 1), R(8, 9), R(12, 15)],
    });
    assert.deepEqual(offAirRanges(changes, 'host-h2', R(0, 15)), { audio: [], video: [] });
  },
);

test(
  'the composite stays on air while any host is; events arrive in any order',
  { timeout: 5_000 },
  () => {
    const changes = [
      c('h2', 'left', 20),
      c('h1', 'joined', 0),
      c('h1', 'camera-off', 5),
      c('h2', 'joined', 2),
    ];
    // h1 publishes throughout with its microphone on; cameras: h1 until 5 s, h2 from 2 to 20 s.
    assert.deepEqual(offAirRanges(changes, 'composite', R(0, 30)), {
      audio: [],
      video: [R(20, 30)],
    });
    // Nothing known: off air throughout (the scorer masks nothing for a livestream it knows nothing of).
    assert.deepEqual(offAirRanges([], 'composite', R(0, 15)), {
      audio: [R(0, 15)],
      video: [R(0, 15)],
    });
  },
);

test(
  'a camera the ingest found off was off since its last picture, 2 s before it noticed',
  { timeout: 5_000 },
  () => {
    const changes: PresenceChange[] = [
      c('h1', 'joined', 0),
      { ...c('h1', 'camera-off', 10), cause: 'media' },
      { ...c('h1', 'camera-on', 12), cause: 'media' },
      { ...c('h1', 'camera-off', 13), cause: 'control' },
    ];
    assert.deepEqual(offAirRanges(changes, 'host-h1', R(0, 15)).video, [R(8, 12), R(13, 15)]);
  },
);

test(
  "a host's audio is off air from its publish until its audio started, each publish afresh",
  { timeout: 5_000 },
  () => {
    const changes = [
      c('h1', 'joined', 0),
      c('h1', 'audio-started', 2.5),
      c('h1', 'dropped', 8),
      c('h1', 'resumed', 9),
      c('h1', 'audio-started', 10),
      c('h2', 'joined', 1),
      c('h2', 'audio-started', 4),
    ];
    assert.deepEqual(offAirRanges(changes, 'host-h1', R(0, 15)), {
      audio: [R(0, 2.5), R(8, 10)],
      video: [R(8, 9)],
    });
    // The composite's audio is on air from the first host whose audio started, and stays on
    // while h2's goes on through h1's drop.
    assert.deepEqual(offAirRanges(changes, 'composite', R(0, 15)).audio, [R(0, 2.5)]);
    // Changes from before the event existed: the audio is on air from the publish, as it was.
    const old = [c('h1', 'joined', 0), c('h1', 'dropped', 8), c('h1', 'resumed', 9)];
    assert.deepEqual(offAirRanges(old, 'host-h1', R(0, 15)).audio, [R(8, 9)]);
  },
);

test(
  "a host's video is off air from its publish until its first picture, each publish afresh",
  { timeout: 5_000 },
  () => {
    const changes = [
      c('h1', 'joined', 0),
      c('h1', 'audio-started', 1),
      c('h1', 'video-started', 1.6),
      c('h1', 'dropped', 8),
      c('h1', 'resumed', 9),
      c('h1', 'video-started', 11),
      c('h1', 'audio-started', 9.5),
      c('h2', 'joined', 0.5),
      c('h2', 'video-started', 3),
    ];
    assert.deepEqual(offAirRanges(changes, 'host-h1', R(0, 15)), {
      audio: [R(0, 1), R(8, 9.5)],
      video: [R(0, 1.6), R(8, 11)],
    });
    // The composite shows a picture from the first host's, and h2's goes on through h1's drop.
    assert.deepEqual(offAirRanges(changes, 'composite', R(0, 15)).video, [R(0, 1.6)]);
    // A camera turned off before the first picture: on air again only once a picture came.
    const late = [
      c('h1', 'joined', 0),
      { ...c('h1', 'camera-off', 0.5), cause: 'control' as const },
      { ...c('h1', 'camera-on', 5), cause: 'control' as const },
      c('h1', 'video-started', 6),
    ];
    assert.deepEqual(offAirRanges(late, 'host-h1', R(0, 15)).video, [R(0, 6)]);
    // A publish without the event (recorded before it existed, or a codec whose keyframes the
    // ingest does not know): the video is on air from the publish, as it was.
    const old = [c('h1', 'joined', 0), c('h1', 'audio-started', 1)];
    assert.deepEqual(offAirRanges(old, 'host-h1', R(0, 15)).video, []);
  },
);

test("a hold-up of the picture alone leaves the picture out of scoring and keeps the sound's", () => {
  const host = { audio: [{ startMs: 0, endMs: 100 }], video: [] };
  const both = { startMs: 1_000, endMs: 2_000 };
  const picture = { startMs: 5_000, endMs: 8_000, media: 'picture' as const };
  assert.deepEqual(withHeldUp(host, [both, picture]), {
    audio: [{ startMs: 0, endMs: 100 }, both],
    video: [both, { startMs: 5_000, endMs: 8_000 }],
  });
  // Hold-ups told before the picture alone could be: both.
  assert.deepEqual(withHeldUp(null, [{ ...both, media: 'both' }]), {
    audio: [both],
    video: [both],
  });
  assert.equal(withHeldUp(null, []), null);
});
