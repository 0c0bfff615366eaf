import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  coalesce,
  escalationRange,
  planClip,
  reviewClipKey,
  reviewIdempotencyKey,
  type StoredSnippet,
} from '../../src/domain/escalation.ts';

const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);
const s = (sec: number) => T0 + sec * 1000;
const range = (from: number, to: number) => ({ startMs: s(from), endMs: s(to) });

/** Back-to-back 15-s snippets from `from` s, as a recording makes them. */
function snippets(from: number, count: number, variant: 'mp4' | 'mp3' = 'mp4'): StoredSnippet[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `ls/host-h1/${variant}/${i}`,
    seq: i,
    variant,
    startMs: s(from + 15 * i),
    endMs: s(from + 15 * (i + 1)),
  }));
}

test('the range is 30 s either side of the flagged one, clipped to the recording', () => {
  assert.deepEqual(escalationRange(range(60, 75), range(0, 300)), range(30, 105));
  assert.deepEqual(escalationRange(range(15, 30), range(0, 300)), range(0, 60));
  assert.deepEqual(escalationRange(range(280, 295), range(0, 300)), range(250, 300));
  assert.deepEqual(
    escalationRange(range(60, 75), range(0, 300), { beforeMs: 5_000, afterMs: 0 }),
    range(55, 75),
  );
  assert.throws(() => escalationRange(range(400, 415), range(0, 300)), /outside/);
  assert.throws(
    () => escalationRange(range(60, 75), range(0, 300), { beforeMs: -1, afterMs: 0 }),
    /negative/,
  );
});

test('a 75-s range is made of the snippets that overlap it, in order, without holes', () => {
  const plan = planClip(range(30, 105), snippets(0, 10), 'mp4')!;
  assert.deepEqual(
    plan.snippets.map((x) => x.seq),
    [2, 3, 4, 5, 6],
  );
  assert.deepEqual(plan.covered, range(30, 105));
  assert.deepEqual(plan.holes, []);
});

test('holes are named: a lost stretch, and where the track had the other variant', () => {
  const stored = [...snippets(0, 2), ...snippets(40, 2).map((x) => ({ ...x, seq: x.seq + 2 }))];
  const plan = planClip(range(0, 80), stored, 'mp4')!;
  assert.deepEqual(plan.holes, [range(30, 40), range(70, 80)]);
  assert.equal(planClip(range(0, 80), stored, 'mp3'), null);
});

test('gaps within the tolerance join; snippets of the other variant are left out', () => {
  const stored = snippets(0, 3).map((x, i) => ({ ...x, startMs: x.startMs + i * 50 }));
  const plan = planClip(range(0, 45), [...stored, ...snippets(0, 3, 'mp3')], 'mp4')!;
  assert.deepEqual(plan.holes, []);
  assert.ok(plan.snippets.every((x) => x.variant === 'mp4'));
});

test('overlapping escalations of one track become one review', () => {
  const open = [
    { id: 'r1', range: range(0, 60) },
    { id: 'r2', range: range(100, 160) },
    { id: 'r3', range: range(300, 360) },
  ];
  assert.deepEqual(coalesce(open, range(200, 260)), { joins: [], range: range(200, 260) });
  assert.deepEqual(coalesce(open, range(50, 110)), { joins: ['r1', 'r2'], range: range(0, 160) });
  assert.deepEqual(coalesce(open, range(60, 90)), { joins: ['r1'], range: range(0, 90) });
  assert.deepEqual(coalesce([], range(1, 2)), { joins: [], range: range(1, 2) });
});

test('review clips sit under the livestream, sorted by time; the same escalation has one idempotency key', () => {
  assert.equal(
    reviewClipKey('ls1', 'host-h1', range(30, 105), 'mp4'),
    'ls1/reviews/host-h1/20261130T080030.000Z_20261130T080145.000Z.mp4',
  );
  assert.equal(
    reviewIdempotencyKey('ls1', 'host-h1', range(30, 105)),
    reviewIdempotencyKey('ls1', 'host-h1', range(30, 105)),
  );
  assert.notEqual(
    reviewIdempotencyKey('ls1', 'host-h1', range(30, 105)),
    reviewIdempotencyKey('ls1', 'host-h2', range(30, 105)),
  );
});
