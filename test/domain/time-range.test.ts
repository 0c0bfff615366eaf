import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlaps, parseInstant, parseRange, TimeRangeError } from '../../src/domain/time-range.ts';

const T = { timeout: 5_000 };

test('ranges are half-open', T, () => {
  assert.equal(overlaps({ startMs: 0, endMs: 10 }, { startMs: 10, endMs: 20 }), false);
  assert.equal(overlaps({ startMs: 0, endMs: 11 }, { startMs: 10, endMs: 20 }), true);
  assert.equal(overlaps({ startMs: 12, endMs: 13 }, { startMs: 10, endMs: 20 }), true);
});

test('instants parse from ISO 8601, key times and epoch milliseconds', T, () => {
  const at = Date.UTC(2026, 10, 30, 8, 45, 12, 500);
  assert.equal(parseInstant('2026-11-30T08:45:12.5Z'), at);
  assert.equal(parseInstant('2026-11-30T09:45:12.500+01:00'), at);
  assert.equal(parseInstant('20261130T084512.500Z'), at);
  assert.equal(parseInstant(String(at)), at);
  for (const bad of ['yesterday', '2026-11-30', '2026-11-30T08:45:12', ''])
    assert.throws(() => parseInstant(bad), TimeRangeError, bad);
  assert.throws(() => parseRange('2026-11-30T08:45:12Z', '2026-11-30T08:45:12Z'), /must be after/);
});
