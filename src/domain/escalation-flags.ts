import { escalationRange, type EscalationWindow } from './escalation.ts';
import type { QualityScore } from './quality-rules.ts';
import type { ReviewDraft, ReviewFinding } from './review.ts';
import { parseSnippetKey, type Variant } from './snippet-key.ts';
import type { SnippetScored } from './snippet-scored.ts';
import type { TimeRange } from './time-range.ts';

/** A low-scored snippet as escalation keeps it: small, so a workflow can hold many. */
export interface EscalationFlag {
  key: string;
  seq: number;
  variant: Variant;
  /** The snippet's own range. */
  range: TimeRange;
  findings: ReviewFinding[];
  lowestScore: number;
}

function findings(key: string, startMs: number, s: QualityScore | null): ReviewFinding[] {
  if (!s) return [];
  return s.reasons.map((r) => ({
    impairment: r.impairment,
    snippetKey: key,
    score: s.score,
    startMs: startMs + Math.round(r.fromSec * 1000),
    endMs: startMs + Math.round(r.toSec * 1000),
  }));
}

/** The flag of a scored snippet, with the scorer's reasons moved to absolute time. */
export function flagOf(s: SnippetScored): EscalationFlag {
  const { variant } = parseSnippetKey(s.key);
  const startMs = Date.parse(s.start);
  const scores = [s.audio.score, ...(s.video ? [s.video.score] : [])];
  return {
    key: s.key,
    seq: s.seq,
    variant,
    range: { startMs, endMs: Date.parse(s.end) },
    findings: [...findings(s.key, startMs, s.audio), ...findings(s.key, startMs, s.video)].sort(
      (a, b) => a.startMs - b.startMs,
    ),
    lowestScore: Math.min(...scores),
  };
}

export interface FlagGroup {
  variant: Variant;
  /** The escalation ranges of its flags, joined. */
  range: TimeRange;
  flags: EscalationFlag[];
}

const WHOLE_TIME: TimeRange = { startMs: 0, endMs: Number.MAX_SAFE_INTEGER };

/**
 * Flags that arrived together, as the clips they need: one per run of overlapping escalation
 * ranges of one variant. The range is clipped to the recording later, by what is stored.
 */
export function groupFlags(flags: readonly EscalationFlag[], w: EscalationWindow): FlagGroup[] {
  const groups: FlagGroup[] = [];
  const sorted = [...flags].sort((a, b) => a.range.startMs - b.range.startMs);
  for (const f of sorted) {
    const range = escalationRange(f.range, WHOLE_TIME, w);
    const last = [...groups].reverse().find((g) => g.variant === f.variant);
    if (last && range.startMs <= last.range.endMs) {
      last.range.endMs = Math.max(last.range.endMs, range.endMs);
      last.flags.push(f);
    } else groups.push({ variant: f.variant, range, flags: [f] });
  }
  return groups;
}

function clamp(r: TimeRange, to: TimeRange): TimeRange | null {
  const c = { startMs: Math.max(r.startMs, to.startMs), endMs: Math.min(r.endMs, to.endMs) };
  return c.endMs > c.startMs ? c : null;
}

/** The review a clip covering `covered` makes for these flags. */
export function reviewDraftFor(o: {
  livestreamId: string;
  track: string;
  variant: Variant;
  clipKey: string;
  covered: TimeRange;
  flags: readonly EscalationFlag[];
}): ReviewDraft {
  const flagged = o.flags
    .map((f) => clamp(f.range, o.covered))
    .filter((r): r is TimeRange => r !== null)
    .sort((a, b) => a.startMs - b.startMs);
  return {
    livestreamId: o.livestreamId,
    track: o.track,
    variant: o.variant,
    clipKey: o.clipKey,
    range: o.covered,
    // A flagged snippet always lies in its own clip; the fallback only guards a store that lost it.
    flagged: flagged.length ? flagged : [o.covered],
    findings: o.flags.flatMap((f) => f.findings),
    lowestScore: Math.min(...o.flags.map((f) => f.lowestScore)),
  };
}

/** One escalation workflow per track serialises its reviews, so overlapping ones can join. */
export function escalationWorkflowId(livestreamId: string, track: string): string {
  return `tapedeck-escalation-${livestreamId}-${track}`;
}

/**
 * A short, stable digest of which snippets a request is about. It goes into idempotency keys: a
 * retry repeats the key, while a later batch with other flags and the same clip gets its own.
 */
export function flagsDigest(flags: readonly EscalationFlag[]): string {
  // FNV-1a: deterministic and dependency-free, so workflow code can use it.
  let h = 0x811c9dc5;
  for (const key of flags.map((f) => f.key).sort())
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return `${flags.length}-${h.toString(16).padStart(8, '0')}`;
}
