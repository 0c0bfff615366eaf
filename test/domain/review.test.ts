import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decideReview,
  decisionProblems,
  extendReview,
  openReview,
  reviewDraftProblems,
  ReviewStateError,
  type ReviewDraft,
} from '../../src/domain/review.ts';

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const NOW = new Date(T0 + 600_000);

function draft(fromS: number, toS: number, flaggedS: [number, number]): ReviewDraft {
  return {
    livestreamId: 'ls',
    track: 'host-h1',
    variant: 'mp4',
    clipKey: `ls/reviews/host-h1/${fromS}_${toS}.mp4`,
    range: { startMs: T0 + fromS * 1000, endMs: T0 + toS * 1000 },
    flagged: [{ startMs: T0 + flaggedS[0] * 1000, endMs: T0 + flaggedS[1] * 1000 }],
    findings: [
      {
        impairment: 'black',
        snippetKey: `k${flaggedS[0]}`,
        score: 20,
        startMs: T0 + flaggedS[0] * 1000,
        endMs: T0 + flaggedS[1] * 1000,
      },
    ],
    lowestScore: 20,
  };
}

test('a valid draft has no problems; a bad one has each named', { timeout: 5_000 }, () => {
  assert.deepEqual(reviewDraftProblems(draft(0, 75, [30, 45])), []);
  assert.deepEqual(reviewDraftProblems(null), ['the review must be a JSON object']);
  const bad = {
    ...draft(0, 75, [30, 45]),
    track: '',
    variant: 'avi',
    flagged: [{ startMs: T0 + 70_000, endMs: T0 + 90_000 }],
    lowestScore: 101,
  };
  const p = reviewDraftProblems(bad);
  assert.ok(p.some((x) => /track must be a non-empty string/.test(x)));
  assert.ok(p.some((x) => /variant must be mp4 or mp3/.test(x)));
  assert.ok(p.some((x) => /flagged\[0\] must lie inside range/.test(x)));
  assert.ok(p.some((x) => /lowestScore must be an integer from 0 to 100/.test(x)));
  assert.ok(
    reviewDraftProblems({ ...draft(0, 75, [30, 45]), range: { startMs: 5, endMs: 5 } }).some((x) =>
      /range must end after it starts/.test(x),
    ),
  );
});

test('decisions: approve or violation with an optional note', { timeout: 5_000 }, () => {
  assert.deepEqual(decisionProblems({ decision: 'approve' }), []);
  assert.deepEqual(decisionProblems({ decision: 'violation', note: 'logo' }), []);
  assert.match(
    decisionProblems({ decision: 'maybe' })[0]!,
    /decision must be one of approve, violation/,
  );
  assert.match(decisionProblems({ decision: 'approve', note: 'x'.repeat(2001) })[0]!, /note/);
});

test('an open review widens to the union and keeps every flag once', { timeout: 5_000 }, () => {
  const r = openReview('r1', draft(0, 75, [30, 45]), NOW);
  assert.equal(r.status, 'open');
  const wider = extendReview(r, draft(30, 105, [60, 75]), new Date(NOW.getTime() + 1000));
  assert.deepEqual(wider.range, { startMs: T0, endMs: T0 + 105_000 });
  assert.equal(wider.flagged.length, 2);
  assert.equal(wider.findings.length, 2);
  assert.equal(wider.clipKey, 'ls/reviews/host-h1/30_105.mp4');
  assert.equal(extendReview(wider, draft(30, 105, [60, 75]), NOW).flagged.length, 2);
  assert.throws(
    () => extendReview(r, { ...draft(0, 75, [30, 45]), track: 'host-h2' }, NOW),
    ReviewStateError,
  );
});

test('a review is decided once; the first decision stands', { timeout: 5_000 }, () => {
  const r = openReview('r1', draft(0, 75, [30, 45]), NOW);
  const d = decideReview(r, 'violation', 'black screen', 'alice', NOW);
  assert.equal(d.status, 'violation');
  assert.deepEqual(d.decision, {
    decision: 'violation',
    note: 'black screen',
    reviewer: 'alice',
    at: NOW.toISOString(),
  });
  assert.throws(() => decideReview(d, 'approve', '', 'bob', NOW), /already decided \(violation\)/);
  assert.throws(() => extendReview(d, draft(0, 75, [30, 45]), NOW), ReviewStateError);
});
