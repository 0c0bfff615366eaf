import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultProfile,
  encoderThreads,
  gopFrames,
  parseCanvas,
  ProfileError,
  validateProfile,
} from '../../src/domain/profile.ts';
import { assertId, InvalidIdError, isValidId } from '../../src/domain/ids.ts';

const T = { timeout: 5_000 };

test('default profile follows the product spec', T, () => {
  const p = defaultProfile({ width: 360, height: 640 });
  assert.deepEqual(p.video, {
    width: 360,
    height: 640,
    fps: 15,
    bitrateKbps: 5000,
    gopSeconds: 1 / 3,
    preset: 'superfast',
  });
  assert.deepEqual(p.audio, { sampleRate: 48000, channels: 1, bitrateKbps: 44 });
  assert.equal(p.snippetSeconds, 15);
  assert.equal(gopFrames(p.video), 5);
  validateProfile(p);
});

test('small canvases encode on one thread; above 720p30 x264 chooses', T, () => {
  const v = defaultProfile({ width: 360, height: 640 }).video;
  assert.equal(encoderThreads(v), 1);
  assert.equal(encoderThreads({ ...v, width: 1280, height: 720, fps: 30 }), 1);
  assert.equal(encoderThreads({ ...v, width: 1280, height: 720, fps: 60 }), 0);
  assert.equal(encoderThreads({ ...v, width: 1920, height: 1080, fps: 30 }), 0);
});

test('canvas parsing refuses odd, tiny, huge and malformed sizes', T, () => {
  assert.deepEqual(parseCanvas('640x360'), { width: 640, height: 360 });
  for (const bad of [
    '361x640',
    '360x641',
    '10x10',
    '8000x4000',
    '360',
    'x640',
    '360X640',
    '-360x640',
    '',
  ]) {
    assert.throws(() => parseCanvas(bad), ProfileError, bad);
  }
});

test('profile validation names the wrong field', T, () => {
  const p = defaultProfile({ width: 640, height: 360 });
  assert.throws(() => validateProfile({ ...p, snippetSeconds: 1 }), /snippet/);
  assert.throws(() => validateProfile({ ...p, video: { ...p.video, fps: 0 } }), /fps/);
  assert.throws(() => validateProfile({ ...p, audio: { ...p.audio, channels: 6 } }), /channels/);
  // The AAC encoder's floor is a channel's share of the bitrate.
  assert.throws(
    () => validateProfile({ ...p, audio: { ...p.audio, bitrateKbps: 24 } }),
    /at least 32 kbit\/s a channel \(32 for mono\)/,
  );
  assert.throws(
    () => validateProfile({ ...p, audio: { ...p.audio, channels: 2 } }),
    /at least 32 kbit\/s a channel \(64 for stereo\)/,
  );
  validateProfile({ ...p, audio: { ...p.audio, channels: 2, bitrateKbps: 64 } });
  assert.throws(() => validateProfile({ ...p, video: { ...p.video, gopSeconds: 20 } }), /GOP/);
  assert.throws(
    () => validateProfile({ ...p, video: { ...p.video, preset: 'placebo' as 'slow' } }),
    /x264 preset must be one of/,
  );
});

test('ids: letters, digits, _ and -, 1 to 64 characters', T, () => {
  for (const good of ['a', 'host-1', 'Live_Stream_2026', 'x'.repeat(64)])
    assert.ok(isValidId(good), good);
  for (const bad of ['', '..', 'a/b', 'a\0b', 'x'.repeat(65), 'héllo', 'a b', '../etc', 'a.b']) {
    assert.ok(!isValidId(bad), JSON.stringify(bad));
    assert.throws(() => assertId('livestream id', bad), InvalidIdError);
  }
  assert.throws(() => assertId('livestream id', 42), InvalidIdError);
});
