import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  escalationWorkflowId,
  flagOf,
  groupFlags,
  reviewDraftFor,
  type EscalationFlag,
} from '../../src/domain/escalation-flags.ts';
import { reviewDraftProblems } from '../../src/domain/review.ts';
import { snippetKey } from '../../src/domain/snippet-key.ts';
import type { SnippetScored } from '../../src/domain/snippet-scored.ts';

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const W = { beforeMs: 30_000, afterMs: 30_000 };

function scored(seq: number, variant: 'mp4' | 'mp3' = 'mp4'): SnippetScored {
  const startMs = T0 + seq * 15_000;
  return {
    key: snippetKey({ livestreamId: 'ls', track: 'host-h1', variant, startMs, seq }),
    livestreamId: 'ls',
    track: 'host-h1',
    seq,
    start: new Date(startMs).toISOString(),
    end: new Date(startMs + 15_000).toISOString(),
    audio: { score: 80, reasons: [] },
    video:
      variant === 'mp4'
        ? { score: 30, reasons: [{ impairment: 'black', fromSec: 5, toSec: 10.5 }] }
        : null,
    review: true,
    reviewBelow: 60,
  };
}

function flag(seq: number, variant: 'mp4' | 'mp3' = 'mp4'): EscalationFlag {
  return flagOf(scored(seq, variant));
}

test(
  'flagOf moves the reasons to absolute time and keeps the lowest score',
  { timeout: 5_000 },
  () => {
    const f = flag(2);
    assert.equal(f.variant, 'mp4');
    assert.deepEqual(f.range, { startMs: T0 + 30_000, endMs: T0 + 45_000 });
    assert.deepEqual(f.findings, [
      {
        impairment: 'black',
        snippetKey: f.key,
        score: 30,
        startMs: T0 + 35_000,
        endMs: T0 + 40_500,
      },
    ]);
    assert.equal(f.lowestScore, 30);
    assert.equal(flag(2, 'mp3').lowestScore, 80);
  },
);

test('groupFlags joins overlapping escalation ranges per variant', { timeout: 5_000 }, () => {
  // 30-45 s and 60-75 s: ranges 0-75 and 30-105 overlap; 300 s is far away; mp3 apart.
  const groups = groupFlags([flag(4), flag(2), flag(20), flag(3, 'mp3')], W);
  assert.deepEqual(
    groups.map((g) => ({
      v: g.variant,
      r: [g.range.startMs - T0, g.range.endMs - T0],
      n: g.flags.length,
    })),
    [
      { v: 'mp4', r: [0, 105_000], n: 2 },
      { v: 'mp3', r: [15_000, 90_000], n: 1 },
      { v: 'mp4', r: [270_000, 345_000], n: 1 },
    ],
  );
});

test(
  'reviewDraftFor makes a valid draft whose flagged ranges lie in the clip',
  { timeout: 5_000 },
  () => {
    const covered = { startMs: T0 + 15_000, endMs: T0 + 75_000 };
    const draft = reviewDraftFor({
      livestreamId: 'ls',
      track: 'host-h1',
      variant: 'mp4',
      clipKey: 'ls/reviews/host-h1/x.mp4',
      covered,
      flags: [flag(2), flag(4)],
    });
    assert.deepEqual(reviewDraftProblems(draft), []);
    // The second flag (60-75 s) lies inside; nothing sticks out of the clip.
    assert.deepEqual(draft.flagged, [
      { startMs: T0 + 30_000, endMs: T0 + 45_000 },
      { startMs: T0 + 60_000, endMs: T0 + 75_000 },
    ]);
    assert.equal(draft.findings.length, 2);
    assert.equal(draft.lowestScore, 30);
  },
);

test('one escalation workflow id per track', { timeout: 5_000 }, () => {
  assert.equal(escalationWorkflowId('ls', 'host-h1'), 'tapedeck-escalation-ls-host-h1');
  assert.notEqual(escalationWorkflowId('ls', 'host-h1'), escalationWorkflowId('ls', 'host-h2'));
});
