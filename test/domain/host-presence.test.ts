import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applySignal,
  initialPresence,
  type HostEvent,
  type HostPresence,
  type HostSignal,
} from '../../src/domain/host-presence.ts';
import { assertHostEvent, hostCloudEvent } from '../../src/domain/host-event.ts';
import { decodeEvent, encodeEvent } from '../../src/domain/cloudevent.ts';

const T = { timeout: 5_000 };

function run(signals: HostSignal[], state: HostPresence = initialPresence('ana')) {
  const events: HostEvent[] = [];
  for (const s of signals) {
    const r = applySignal(state, s);
    state = r.state;
    events.push(...r.events);
  }
  return { state, events: events.map((e) => `${e.at} ${e.type} ${e.cause}`) };
}

/** Video frames every 100 ms from `from` to `to`, with ticks every 500 ms. */
function frames(from: number, to: number): HostSignal[] {
  const out: HostSignal[] = [];
  for (let t = from; t < to; t += 100) {
    out.push({ type: 'video', at: t });
    if (t % 500 === 0) out.push({ type: 'tick', at: t });
  }
  return out;
}

function ticks(from: number, to: number): HostSignal[] {
  const out: HostSignal[] = [];
  for (let t = from; t <= to; t += 500) out.push({ type: 'tick', at: t });
  return out;
}

test('no video for 2 s turns the camera off; video again turns it on', T, () => {
  const r = run([
    { type: 'published', at: 0 },
    ...frames(0, 3000),
    ...ticks(3000, 6000),
    ...frames(6000, 7000),
  ]);
  assert.deepEqual(r.events, ['0 joined publish', '5000 camera-off media', '6000 camera-on media']);
});

test(
  'the control side turns the camera off at once, and media alone does not turn it back on',
  T,
  () => {
    const r = run([
      { type: 'published', at: 0 },
      ...frames(0, 1000),
      { type: 'control', at: 1000, what: 'camera-off' },
      ...ticks(1000, 4000),
      ...frames(4000, 5000),
      { type: 'control', at: 5000, what: 'camera-on' },
      { type: 'control', at: 5100, what: 'microphone-off' },
      { type: 'control', at: 5200, what: 'microphone-off' },
    ]);
    assert.deepEqual(r.events, [
      '0 joined publish',
      '1000 camera-off control',
      '5000 camera-on control',
      '5100 microphone-off control',
    ]);
  },
);

test(
  'a host that drops and publishes again within the grace period resumes; later it has left',
  T,
  () => {
    const back = run([
      { type: 'published', at: 0 },
      ...frames(0, 1000),
      { type: 'unpublished', at: 1000, reason: 'ice-failed' },
      ...ticks(1000, 9000),
      { type: 'published', at: 9500 },
    ]);
    assert.deepEqual(back.events, [
      '0 joined publish',
      '1000 dropped publish',
      '9500 resumed publish',
    ]);
    const gone = run([
      { type: 'published', at: 0 },
      { type: 'unpublished', at: 1000, reason: 'timeout' },
      ...ticks(1000, 12_000),
      { type: 'published', at: 12_500 },
    ]);
    assert.deepEqual(gone.events, [
      '0 joined publish',
      '1000 dropped publish',
      '11000 left grace-expired',
      '12500 joined publish',
    ]);
  },
);

test(
  'ending the publish (DELETE) is leaving, at once; a dropped host is not reported camera-off',
  T,
  () => {
    const r = run([
      { type: 'published', at: 0 },
      { type: 'unpublished', at: 500, reason: 'ice-failed' },
      ...ticks(500, 5000),
      { type: 'published', at: 5000 },
      { type: 'unpublished', at: 6000, reason: 'delete' },
      ...ticks(6000, 20_000),
    ]);
    assert.deepEqual(r.events, [
      '0 joined publish',
      '500 dropped publish',
      '5000 resumed publish',
      '6000 left publish',
    ]);
    assert.equal(r.state.connection, 'absent');
  },
);

test('host changes become CloudEvents with stable ids and a checked schema', T, () => {
  const change: HostEvent = {
    type: 'camera-off',
    hostId: 'ana',
    at: Date.UTC(2026, 10, 30, 9),
    cause: 'media',
    detail: 'no video for 2 s',
  };
  const a = hostCloudEvent('show', change);
  const b = hostCloudEvent('show', { ...change });
  assert.equal(a.id, b.id);
  assert.equal(a.type, 'tapedeck.host.camera-off');
  assert.deepEqual(decodeEvent(encodeEvent(a)), a);
  assert.notEqual(hostCloudEvent('show', { ...change, at: change.at + 1 }).id, a.id);
  const bad = structuredClone(a) as unknown as { data: Record<string, unknown> };
  bad.data.change = 'camera-on';
  assert.throws(() => assertHostEvent(bad), /type must match data.change/);
  assert.throws(() => hostCloudEvent('../x', change), /not a valid id/);
});

/** Audio packets every 20 ms from `from` to `to`, as a publisher with its microphone on sends. */
function audio(from: number, to: number): HostSignal[] {
  const out: HostSignal[] = [];
  for (let t = from; t < to; t += 20) out.push({ type: 'audio', at: t });
  return out;
}

const byTime = (signals: HostSignal[]) => [...signals].sort((a, b) => a.at - b.at);

test('video gone while audio goes on is a camera turned off', T, () => {
  const r = run(
    byTime([
      { type: 'published', at: 0 },
      ...frames(0, 3000),
      ...audio(0, 7000),
      ...ticks(3000, 6000),
      ...frames(6000, 7000),
    ]),
  );
  assert.deepEqual(r.events, [
    '0 joined publish',
    '0 audio-started media',
    '5000 camera-off media',
    '6000 camera-on media',
  ]);
});

test(
  'a host whose audio and video both stop is not reported camera-off: it drops and resumes with its camera on',
  T,
  () => {
    // A publisher killed at 3 s: nothing arrives until its session fails for lack of RTP at 8 s.
    const r = run(
      byTime([
        { type: 'published', at: 0 },
        ...frames(0, 3000),
        ...audio(0, 3000),
        ...ticks(3000, 8000),
        { type: 'unpublished', at: 8000, reason: 'timeout' },
        ...ticks(8000, 11_000),
        { type: 'published', at: 11_000 },
        ...frames(11_000, 12_000),
        ...audio(11_000, 12_000),
      ]),
    );
    assert.deepEqual(r.events, [
      '0 joined publish',
      '0 audio-started media',
      '8000 dropped publish',
      '11000 resumed publish',
      '11000 audio-started media',
    ]);
    assert.equal(r.state.cameraOn, true);
    // The new publish's audio counts afresh: one that sends none keeps the video rule alone.
    const videoOnly = run([
      { type: 'published', at: 0 },
      ...audio(0, 1000),
      { type: 'unpublished', at: 1000, reason: 'ice-failed' },
      { type: 'published', at: 2000 },
      ...frames(2000, 3000),
      ...ticks(3000, 5000),
    ]);
    assert.deepEqual(videoOnly.events, [
      '0 joined publish',
      '0 audio-started media',
      '1000 dropped publish',
      '2000 resumed publish',
      '5000 camera-off media',
    ]);
  },
);

test("a publish's first audio says so once: its recordings held silence until then", T, () => {
  const r = run(
    byTime([
      { type: 'published', at: 0 },
      ...frames(0, 3000),
      ...audio(1800, 3000),
      { type: 'unpublished', at: 3000, reason: 'ice-failed' },
      { type: 'published', at: 4000 },
      ...frames(4000, 5000),
      ...audio(4600, 5000),
    ]),
  );
  assert.deepEqual(r.events, [
    '0 joined publish',
    '1800 audio-started media',
    '3000 dropped publish',
    '4000 resumed publish',
    '4600 audio-started media',
  ]);
  // Audio before any publish, or after the host left, says nothing.
  assert.deepEqual(run([...audio(0, 100)]).events, []);
});

test(
  "a publish's first picture says so once: its recordings showed none of the host before",
  T,
  () => {
    const picture = (at: number): HostSignal => ({ type: 'picture', at });
    const r = run(
      byTime([
        { type: 'published', at: 0 },
        ...frames(300, 3000),
        picture(900),
        picture(1500),
        { type: 'unpublished', at: 3000, reason: 'ice-failed' },
        picture(3500),
        { type: 'published', at: 4000 },
        ...frames(4000, 5000),
        picture(4400),
      ]),
    );
    assert.deepEqual(r.events, [
      '0 joined publish',
      '900 video-started media',
      '3000 dropped publish',
      '4000 resumed publish',
      '4400 video-started media',
    ]);
    // A picture before any publish says nothing.
    assert.deepEqual(run([picture(0)]).events, []);
  },
);
