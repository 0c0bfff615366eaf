import type { Impairment } from './quality-rules.ts';
import type { Variant } from './snippet-key.ts';
import type { TimeRange } from './time-range.ts';

/**
 * A review: a merged clip of one track that a person looks at because a scorer found something
 * wrong in it. Pure rules only; the moderation service stores reviews, escalation creates them.
 */

export type ReviewStatus = 'open' | 'approved' | 'violation';
export type Decision = 'approve' | 'violation';
export const DECISIONS: readonly Decision[] = ['approve', 'violation'];

/** One impairment a scorer found, in absolute time (ms since the Unix epoch). */
export interface ReviewFinding extends TimeRange {
  impairment: Impairment;
  /** The snippet it was found in. */
  snippetKey: string;
  /** That snippet's score for the impairment's medium (audio or video), 0 to 100. */
  score: number;
}

/** What escalation sends to create a review, or to widen an open one. */
export interface ReviewDraft {
  livestreamId: string;
  track: string;
  variant: Variant;
  /** The merged clip in the object store. */
  clipKey: string;
  /** What the clip covers. */
  range: TimeRange;
  /** The low-scored snippets' ranges inside it: what the player marks. */
  flagged: TimeRange[];
  findings: ReviewFinding[];
  /** The lowest score among the flagged snippets. */
  lowestScore: number;
}

export interface ReviewDecision {
  decision: Decision;
  note: string;
  reviewer: string;
  /** ISO 8601. */
  at: string;
}

export interface Review extends ReviewDraft {
  id: string;
  status: ReviewStatus;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
  decision: ReviewDecision | null;
}

export type AuditAction = 'created' | 'extended' | 'decided';

export interface AuditEntry {
  /** Increasing, in the order things happened. */
  seq: number;
  reviewId: string;
  /** ISO 8601. */
  at: string;
  /** Who did it: a reviewer's name, or the service token's name for escalation. */
  actor: string;
  action: AuditAction;
  detail: Record<string, unknown>;
}

export class ReviewStateError extends Error {
  override name = 'ReviewStateError';
}

const IMPAIRMENTS = new Set(['silence', 'clipping', 'noise', 'black', 'frozen']);
const NOTE_MAX = 2000;

function rangeProblems(field: string, v: unknown): string[] {
  const r = v as Partial<TimeRange> | null;
  if (typeof r !== 'object' || r === null) return [`${field} must be an object`];
  if (!Number.isSafeInteger(r.startMs) || !Number.isSafeInteger(r.endMs))
    return [`${field}.startMs and ${field}.endMs must be integers (ms since the Unix epoch)`];
  return (r.endMs as number) > (r.startMs as number) ? [] : [`${field} must end after it starts`];
}

/** Every problem of a draft, as sentences; empty when it is valid. */
export function reviewDraftProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['the review must be a JSON object'];
  const d = value as Partial<Record<keyof ReviewDraft, unknown>>;
  const p: string[] = [];
  for (const k of ['livestreamId', 'track', 'clipKey'] as const)
    if (typeof d[k] !== 'string' || (d[k] as string).length === 0 || (d[k] as string).length > 512)
      p.push(`${k} must be a non-empty string of at most 512 characters`);
  if (d.variant !== 'mp4' && d.variant !== 'mp3') p.push('variant must be mp4 or mp3');
  const range = rangeProblems('range', d.range);
  p.push(...range);
  if (!Array.isArray(d.flagged) || d.flagged.length === 0)
    p.push('flagged must be a non-empty array of ranges');
  else
    d.flagged.forEach((f, i) => {
      const fp = rangeProblems(`flagged[${i}]`, f);
      p.push(...fp);
      const r = d.range as TimeRange;
      const ff = f as TimeRange;
      if (!fp.length && !range.length && (ff.startMs < r.startMs || ff.endMs > r.endMs))
        p.push(`flagged[${i}] must lie inside range`);
    });
  if (!Array.isArray(d.findings)) p.push('findings must be an array');
  else
    d.findings.forEach((f, i) => {
      const x = f as Partial<ReviewFinding> | null;
      if (!IMPAIRMENTS.has(String(x?.impairment)))
        p.push(`findings[${i}].impairment must be one of ${[...IMPAIRMENTS].join(', ')}`);
      if (typeof x?.snippetKey !== 'string') p.push(`findings[${i}].snippetKey must be a string`);
      if (!Number.isInteger(x?.score) || (x!.score as number) < 0 || (x!.score as number) > 100)
        p.push(`findings[${i}].score must be an integer from 0 to 100`);
      p.push(...rangeProblems(`findings[${i}]`, f));
    });
  if (
    !Number.isInteger(d.lowestScore) ||
    (d.lowestScore as number) < 0 ||
    (d.lowestScore as number) > 100
  )
    p.push('lowestScore must be an integer from 0 to 100');
  return p;
}

/** Problems of a decision request `{ decision, note }`. */
export function decisionProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['the decision must be a JSON object'];
  const d = value as { decision?: unknown; note?: unknown };
  const p: string[] = [];
  if (!DECISIONS.includes(d.decision as Decision))
    p.push(`decision must be one of ${DECISIONS.join(', ')}`);
  if (d.note !== undefined && (typeof d.note !== 'string' || d.note.length > NOTE_MAX))
    p.push(`note must be a string of at most ${NOTE_MAX} characters`);
  return p;
}

/** A new open review from a valid draft. */
export function openReview(id: string, draft: ReviewDraft, now: Date): Review {
  const at = now.toISOString();
  return { ...draft, id, status: 'open', createdAt: at, updatedAt: at, decision: null };
}

function byStart<T extends TimeRange>(items: T[]): T[] {
  return [...items].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
}

/**
 * An open review widened by a later, overlapping escalation of the same track: the new clip, the
 * union of the ranges, every flagged range and finding once.
 */
export function extendReview(review: Review, draft: ReviewDraft, now: Date): Review {
  if (review.status !== 'open')
    throw new ReviewStateError(
      `review ${review.id} is ${review.status}; only an open review can be extended`,
    );
  if (
    review.livestreamId !== draft.livestreamId ||
    review.track !== draft.track ||
    review.variant !== draft.variant
  )
    throw new ReviewStateError(
      `review ${review.id} is for ${review.livestreamId}/${review.track} (${review.variant}); the draft is for ${draft.livestreamId}/${draft.track} (${draft.variant})`,
    );
  const seen = new Set<string>();
  const once = <T>(items: T[], key: (t: T) => string) =>
    items.filter((t) => (seen.has(key(t)) ? false : (seen.add(key(t)), true)));
  return {
    ...review,
    clipKey: draft.clipKey,
    range: {
      startMs: Math.min(review.range.startMs, draft.range.startMs),
      endMs: Math.max(review.range.endMs, draft.range.endMs),
    },
    flagged: byStart(
      once([...review.flagged, ...draft.flagged], (f) => `r:${f.startMs}-${f.endMs}`),
    ),
    findings: byStart(
      once(
        [...review.findings, ...draft.findings],
        (f) => `f:${f.snippetKey}:${f.impairment}:${f.startMs}-${f.endMs}`,
      ),
    ),
    lowestScore: Math.min(review.lowestScore, draft.lowestScore),
    updatedAt: now.toISOString(),
  };
}

/** The review decided. Deciding twice is refused: the first decision stands and is audited. */
export function decideReview(
  review: Review,
  decision: Decision,
  note: string,
  reviewer: string,
  now: Date,
): Review {
  if (review.status !== 'open')
    throw new ReviewStateError(`review ${review.id} was already decided (${review.status})`);
  const at = now.toISOString();
  return {
    ...review,
    status: decision === 'approve' ? 'approved' : 'violation',
    updatedAt: at,
    decision: { decision, note, reviewer, at },
  };
}
