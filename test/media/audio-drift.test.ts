import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AudioDrift } from '../../src/media/worker/audio-drift.ts';

const MS = 1_000_000;

/**
 * Feeds one look a second: the clock at `t` s and a position that lags it by `lagMs(t)`, less
 * what the guard has moved the timestamps by so far.
 */
function feed(guard: AudioDrift, seconds: number, lagMs: (t: number) => number) {
  const moves: { at: number; ms: number }[] = [];
  let moved = 0;
  for (let t = 0; t < seconds; t++) {
    const now = BigInt(t * 1000 * MS);
    const move = guard.sample(now, now - BigInt(Math.round((lagMs(t) - moved) * MS)));
    if (move !== null) {
      moves.push({ at: t, ms: move.ns / MS });
      moved += move.ns / MS;
    }
  }
  return moves;
}

test('a steady lag with jitter and a stall moves nothing', { timeout: 5_000 }, () => {
  // 120 ms of lag, up to 30 ms of jitter, and 2 s stalled in the middle.
  const lag = (t: number) => 120 + ((t * 7) % 30) + (t === 50 || t === 51 ? 2_000 : 0);
  assert.deepEqual(feed(new AudioDrift(), 120, lag), []);
});

test('a slow sender is followed window by window, a fast one too', { timeout: 5_000 }, () => {
  // 5 ms a second against the first window's smallest lag, looked at every 10 s.
  assert.deepEqual(
    feed(new AudioDrift(), 60, (t) => 100 + 5 * t),
    [19, 29, 39, 49, 59].map((at) => ({ at, ms: 50 })),
  );
  assert.deepEqual(
    feed(new AudioDrift(), 40, (t) => 300 - 5 * t),
    [19, 29, 39].map((at) => ({ at, ms: -50 })),
  );
});

test('a sender 0.38 % slow is followed every window, not every other', { timeout: 5_000 }, () => {
  // 38 ms a window: with a threshold above it, each move waited a second window and came at 76 ms.
  assert.deepEqual(
    feed(new AudioDrift(), 60, (t) => 100 + 3.8 * t).map((m) => [m.at, Math.round(m.ms)]),
    [19, 29, 39, 49, 59].map((at) => [at, 38]),
  );
});

test('a smaller window and threshold move sooner and by less', { timeout: 5_000 }, () => {
  const guard = new AudioDrift({ windowSamples: 5, thresholdNs: 20 * MS });
  assert.deepEqual(
    feed(guard, 30, (t) => 100 + 5 * t).map((m) => m.ms),
    [25, 25, 25, 25, 25],
  );
});

test('a microphone that sends nothing is not drift', { timeout: 5_000 }, () => {
  const guard = new AudioDrift({ windowSamples: 3 });
  // The clock goes on, the position stays: only the first look counts.
  for (let t = 1; t < 40; t++)
    assert.equal(guard.sample(BigInt(t * 1000 * MS), 900n * BigInt(MS)), null);
});

test(
  'a delay at the start that passes moves nothing: the reference comes down with it',
  { timeout: 5_000 },
  () => {
    // A busy start: every sound 400 ms later than it will be, for the first 15 s. Followed as drift,
    // this moved the timestamps 400 ms earlier at 19 s, behind what the mixer had already mixed.
    const lag = (t: number) => 100 + (t < 15 ? 400 : 0);
    assert.deepEqual(feed(new AudioDrift(), 120, lag), []);
    // Drift after it is followed from the new reference: 5 ms a second from 30 s on.
    const drifting = (t: number) => lag(t) + (t >= 30 ? 5 * (t - 30) : 0);
    assert.deepEqual(
      feed(new AudioDrift(), 60, drifting),
      [49, 59].map((at) => ({ at, ms: 50 })),
    );
  },
);

test('a delay of the way in that comes and goes moves nothing', { timeout: 5_000 }, () => {
  // 1.2 s later for 25 s: the guard moved 1.2 s later at 29 s, then 1.2 s back at 49 s.
  const lag = (t: number) => 100 + (t >= 20 && t < 45 ? 1_200 : 0);
  assert.deepEqual(feed(new AudioDrift(), 120, lag), []);
});

test(
  'a delay that stays is followed once it has lasted as long as drift would take',
  { timeout: 5_000 },
  () => {
    // 0.95 s more from 20 s on, for good: at 1 % that is drift 95 s after the reference (9 s), so
    // the first window to end after 104 s follows it.
    assert.deepEqual(
      feed(new AudioDrift(), 150, (t) => 100 + (t >= 20 ? 950 : 0)),
      [{ at: 109, ms: 950 }],
    );
  },
);

test('bad options are refused', { timeout: 5_000 }, () => {
  assert.throws(() => new AudioDrift({ windowSamples: 1 }), /windowSamples/);
  assert.throws(() => new AudioDrift({ thresholdNs: 0 }), /thresholdNs/);
  assert.throws(() => new AudioDrift({ maxRate: 0 }), /maxRate/);
});

test(
  'sound timed late from a burst at its start moves earlier once, by all of it, and drift after it is followed from there',
  { timeout: 5_000 },
  () => {
    // The first look lands in the burst (400 ms of its 800 out), the next sees it all.
    const burst = (t: number) => (t === 0 ? -400 : -800);
    assert.deepEqual(feed(new AudioDrift(), 60, burst), [{ at: 1, ms: -800 }]);
    // 5 ms a second of drift after it: the reference comes from the first window after the move.
    const drifting = (t: number) => burst(t) + (t >= 2 ? 5 * (t - 2) : 0);
    assert.deepEqual(
      feed(new AudioDrift(), 40, drifting).map((m) => [m.at, Math.round(m.ms)]),
      [
        [1, -800],
        [21, 50],
        [31, 50],
      ],
    );
  },
);

test(
  'sound a little ahead, or far ahead for a single look, is not timed late',
  { timeout: 5_000 },
  () => {
    // What a first packet a few tens of ms late leaves: moved by drift rules only, never.
    assert.deepEqual(
      feed(new AudioDrift(), 60, (t) => -72 + ((t * 7) % 20)),
      [],
    );
    // One look far ahead between looks that are not.
    assert.deepEqual(
      feed(new AudioDrift(), 60, (t) => (t === 30 ? -900 : 10)),
      [],
    );
    // Positions a minute ahead are no burst of sound.
    assert.deepEqual(
      feed(new AudioDrift(), 60, () => -60_000),
      [],
    );
    assert.throws(() => new AudioDrift({ aheadNs: 20 * MS }), /aheadNs must be above thresholdNs/);
  },
);
