import { formatKeyTime, type Variant } from './snippet-key.ts';
import { overlaps, type TimeRange } from './time-range.ts';

/**
 * What an escalation decides before it touches storage: the range a reviewer sees around a low
 * snippet, which snippets make it up, whether they join without holes, and which open review of
 * the same track it belongs to.
 */

export interface EscalationWindow {
  /** How much before the flagged range the clip starts. Default 30 s. */
  beforeMs: number;
  /** How much after it the clip ends. Default 30 s. */
  afterMs: number;
}

export const DEFAULT_ESCALATION_WINDOW: EscalationWindow = { beforeMs: 30_000, afterMs: 30_000 };

/** The range around `flagged`, clipped to what was recorded of the track. */
export function escalationRange(
  flagged: TimeRange,
  recorded: TimeRange,
  w: EscalationWindow = DEFAULT_ESCALATION_WINDOW,
): TimeRange {
  if (!(w.beforeMs >= 0 && w.afterMs >= 0))
    throw new RangeError('the escalation window must not be negative');
  const range = {
    startMs: Math.max(recorded.startMs, flagged.startMs - w.beforeMs),
    endMs: Math.min(recorded.endMs, flagged.endMs + w.afterMs),
  };
  if (range.endMs <= range.startMs)
    throw new RangeError('the flagged range lies outside what was recorded of the track');
  return range;
}

export interface StoredSnippet extends TimeRange {
  key: string;
  seq: number;
  variant: Variant;
}

export interface ClipPlan {
  /** In time order: the snippets the merged clip is made of. */
  snippets: StoredSnippet[];
  /** What they cover: from the first one's start to the last one's end. */
  covered: TimeRange;
  /** Stretches of the range no snippet covers (a lost recording, a gap between variants). */
  holes: TimeRange[];
}

/**
 * The snippets of one variant overlapping `range`. Two snippets that leave less than
 * `toleranceMs` between them join (an MP4 snippet ends with its last frame, the next begins a
 * frame later). Null when nothing overlaps.
 */
export function planClip(
  range: TimeRange,
  stored: readonly StoredSnippet[],
  variant: Variant,
  toleranceMs = 100,
): ClipPlan | null {
  const snippets = stored
    .filter((s) => s.variant === variant && overlaps(s, range))
    .sort((a, b) => a.startMs - b.startMs || a.seq - b.seq);
  if (snippets.length === 0) return null;
  const holes: TimeRange[] = [];
  const hole = (startMs: number, endMs: number) => {
    if (endMs - startMs > toleranceMs) holes.push({ startMs, endMs });
  };
  hole(range.startMs, snippets[0]!.startMs);
  let reach = snippets[0]!.endMs;
  for (const s of snippets.slice(1)) {
    hole(reach, s.startMs);
    reach = Math.max(reach, s.endMs);
  }
  hole(reach, range.endMs);
  return {
    snippets,
    covered: { startMs: snippets[0]!.startMs, endMs: reach },
    holes,
  };
}

export interface OpenReview {
  id: string;
  range: TimeRange;
}

/**
 * Overlapping escalations of one track make one review: a range that overlaps or touches open
 * reviews joins them, and the clip is made again for the union. Returns the reviews it joins
 * (none: a new review) and the range to cut.
 */
export function coalesce(
  open: readonly OpenReview[],
  range: TimeRange,
): { joins: string[]; range: TimeRange } {
  let union = { ...range };
  let joins: OpenReview[] = [];
  // A union can grow into reviews the first range did not reach, so repeat until it stops growing.
  for (;;) {
    const touching = open.filter(
      (r) => r.range.startMs <= union.endMs && union.startMs <= r.range.endMs,
    );
    const next = touching.reduce(
      (u, r) => ({
        startMs: Math.min(u.startMs, r.range.startMs),
        endMs: Math.max(u.endMs, r.range.endMs),
      }),
      union,
    );
    joins = touching;
    if (next.startMs === union.startMs && next.endMs === union.endMs) break;
    union = next;
  }
  return { joins: joins.map((r) => r.id).sort(), range: union };
}

/** The folder of a livestream's review clips, beside its tracks (which never take this name). */
export const REVIEWS_FOLDER = 'reviews';

/** `{livestreamId}/reviews/{track}/{start}_{end}.{ext}`: next to the snippets, sorted by time. */
export function reviewClipKey(
  livestreamId: string,
  track: string,
  range: TimeRange,
  variant: Variant,
): string {
  return `${livestreamId}/${REVIEWS_FOLDER}/${track}/${formatKeyTime(range.startMs)}_${formatKeyTime(range.endMs)}.${variant}`;
}

/** The same escalation always gets the same key, so a retried request creates no second review. */
export function reviewIdempotencyKey(
  livestreamId: string,
  track: string,
  range: TimeRange,
): string {
  return `${livestreamId}:${track}:${range.startMs}-${range.endMs}`;
}
