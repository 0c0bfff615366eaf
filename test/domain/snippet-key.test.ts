import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidIdError } from '../../src/domain/ids.ts';
import {
  formatKeyTime,
  hostTrack,
  KeyError,
  parseKeyTime,
  parseSnippetKey,
  rangeStartAfter,
  snippetKey,
  trackPrefix,
} from '../../src/domain/snippet-key.ts';

const T = { timeout: 5_000 };
const at = Date.UTC(2026, 10, 30, 8, 45, 12, 0);

test('keys follow the documented scheme and parse back', T, () => {
  const key = snippetKey({
    livestreamId: 'show-1',
    track: 'composite',
    variant: 'mp4',
    startMs: at,
    seq: 7,
  });
  assert.equal(key, 'show-1/composite/mp4/20261130T084512.000Z_000007.mp4');
  assert.deepEqual(parseSnippetKey(key), {
    livestreamId: 'show-1',
    track: 'composite',
    variant: 'mp4',
    startMs: at,
    seq: 7,
  });
  const host = snippetKey({
    livestreamId: 's',
    track: hostTrack('ana_2'),
    variant: 'mp3',
    startMs: at + 15_001,
    seq: 0,
  });
  assert.equal(host, 's/host-ana_2/mp3/20261130T084527.001Z_000000.mp3');
});

test('key times sort like the instants they name', T, () => {
  const times = [0, 999, 1000, at, at + 1, at + 15_000, 253402300799999];
  const keys = times.map(formatKeyTime);
  assert.deepEqual([...keys].sort(), keys);
  for (const t of times) assert.equal(parseKeyTime(formatKeyTime(t)), t);
});

test('ids with "..", a slash, a NUL or 65 characters are refused', T, () => {
  for (const bad of ['..', 'a/b', 'a\0b', 'x'.repeat(65), '', 'a b', 'ü']) {
    assert.throws(
      () =>
        snippetKey({ livestreamId: bad, track: 'composite', variant: 'mp4', startMs: at, seq: 0 }),
      InvalidIdError,
      JSON.stringify(bad),
    );
    assert.throws(() => hostTrack(bad), InvalidIdError, JSON.stringify(bad));
  }
  assert.doesNotThrow(() => hostTrack('x'.repeat(64)));
});

test('malformed keys and parts are refused with a reason', T, () => {
  for (const bad of [
    's/composite/mp4/20261130T084512.000Z_000007.mp3',
    's/composite/mp4/20261130T084512.000Z_7.mp4',
    's/composite/mp4/20261131T084512.000Z_000007.mp4',
    's/camera/mp4/20261130T084512.000Z_000007.mp4',
    '../composite/mp4/20261130T084512.000Z_000007.mp4',
    's/composite/mp4/../20261130T084512.000Z_000007.mp4',
  ])
    assert.throws(
      () => parseSnippetKey(bad),
      /not a snippet key|not a real date|not "composite"|not a valid id/,
      bad,
    );
  assert.throws(
    () =>
      snippetKey({
        livestreamId: 's',
        track: 'composite',
        variant: 'mp4',
        startMs: at,
        seq: 1_000_000,
      }),
    KeyError,
  );
  assert.throws(
    () =>
      snippetKey({ livestreamId: 's', track: 'composite', variant: 'mp4', startMs: -1, seq: 0 }),
    KeyError,
  );
});

test(
  'a time range listing starts early enough to include a snippet running at its start',
  T,
  () => {
    const prefix = trackPrefix('s', 'composite', 'mp4');
    const running = snippetKey({
      livestreamId: 's',
      track: 'composite',
      variant: 'mp4',
      startMs: at,
      seq: 3,
    });
    const before = snippetKey({
      livestreamId: 's',
      track: 'composite',
      variant: 'mp4',
      startMs: at - 15_000,
      seq: 2,
    });
    const marker = rangeStartAfter(prefix, at + 10_000, 15_000);
    assert.ok(running > marker, 'the snippet that is still running at the range start is listed');
    assert.ok(before < marker, 'older snippets are skipped');
    const exact = rangeStartAfter(prefix, at + 15_000, 15_000);
    assert.ok(running > exact, 'a snippet starting exactly at the marker time is still listed');
  },
);
