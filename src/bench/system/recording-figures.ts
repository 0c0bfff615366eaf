/**
 * What one round of `tapedeck bench system` says about each recording, from what the store and
 * the bus hold afterwards: pure functions over the snippets' announcements.
 */
import type { Review } from '../../domain/review.ts';
import { spread, type Spread } from '../stats.ts';

export interface SeenSnippet {
  livestreamId: string;
  track: string;
  key: string;
  startMs: number;
  endMs: number;
  durationMs: number;
  /** When its tapedeck.snippet.ready event was made: stored, checked, announced. */
  announcedMs: number;
  /** Video samples in the file; null for audio-only snippets or when unreadable. */
  videoFrames: number | null;
}

export interface RecordingFigures {
  livestreamId: string;
  track: string;
  delivered: number;
  expected: number;
  /** Holes of more than a second between one snippet's end and the next one's start. */
  holes: number;
  late: number;
  expectedFrames: number;
  droppedFrames: number;
  /**
   * Media time advanced per wall second, between the first and the last whole snippet's
   * announcement: 1.0 keeps up; below 1 falls further behind with every snippet. Null with
   * fewer than two whole snippets.
   */
  realTimeFactor: number | null;
  /** Seconds from a snippet's end (its last frame) to its announcement. */
  latencySec: Spread;
}

export interface FigureRules {
  snippetSec: number;
  fps: number;
  /** A snippet announced later than this after its end is late. */
  lateAfterSec: number;
  /** When the livestream was asked to stop: the end of what should have been recorded. */
  stopAtMs: number;
}

const HOLE_MS = 1_000;
/** A last snippet shorter than this may be left out by a recorder stopped just after a cut. */
const SHORTEST_LAST_MS = 1_000;

/** Less than this past a whole snippet is the rounding of frame-exact snippet lengths. */
const ROUNDING_MS = 100;

/**
 * Snippets from the first one's start up to the stop: whole ones, and a last one of a second or
 * more. A recorder the stop reaches later (the stop goes to the recordings one by one) cuts its
 * last snippet where it stopped: `lastEndMs` past the stop counts that one, however short.
 */
export function expectedSnippets(
  firstStartMs: number,
  stopAtMs: number,
  snippetSec: number,
  lastEndMs = stopAtMs,
): number {
  const endMs = Math.max(stopAtMs, lastEndMs);
  const spanMs = Math.max(0, endMs - firstStartMs);
  const whole = Math.floor((spanMs + ROUNDING_MS) / (snippetSec * 1000));
  const tailMs = spanMs - whole * snippetSec * 1000;
  return whole + (tailMs >= (endMs > stopAtMs ? ROUNDING_MS : SHORTEST_LAST_MS) ? 1 : 0);
}

export function recordingFigures(
  snippets: readonly SeenSnippet[],
  rules: FigureRules,
): RecordingFigures {
  if (snippets.length === 0) throw new Error('a recording without snippets has no figures');
  const sorted = [...snippets].sort((a, b) => a.startMs - b.startMs);
  const first = sorted[0]!;
  let holes = 0;
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i]!.startMs - sorted[i - 1]!.endMs > HOLE_MS) holes += 1;
  const latencies = sorted.map((s) => (s.announcedMs - s.endMs) / 1000);
  let expectedFrames = 0;
  let droppedFrames = 0;
  for (const s of sorted) {
    if (s.videoFrames === null) continue;
    const want = Math.round((s.durationMs / 1000) * rules.fps);
    expectedFrames += want;
    droppedFrames += Math.max(0, want - s.videoFrames);
  }
  const whole = sorted.filter((s) => s.durationMs >= rules.snippetSec * 1000 - 100);
  let realTimeFactor: number | null = null;
  if (whole.length >= 2) {
    const a = whole[0]!;
    const b = whole.at(-1)!;
    const wall = b.announcedMs - a.announcedMs;
    if (wall > 0) realTimeFactor = (b.endMs - a.endMs) / wall;
  }
  return {
    livestreamId: first.livestreamId,
    track: first.track,
    delivered: sorted.length,
    expected: expectedSnippets(
      first.startMs,
      rules.stopAtMs,
      rules.snippetSec,
      sorted.at(-1)!.endMs,
    ),
    holes,
    late: latencies.filter((l) => l > rules.lateAfterSec).length,
    expectedFrames,
    droppedFrames,
    realTimeFactor,
    latencySec: spread(latencies),
  };
}

export interface HoldRules {
  /** Lowest real-time factor that still holds real time. */
  minRealTimeFactor: number;
  /** Largest share of video frames a recording may be missing. */
  maxDroppedShare: number;
}

export const DEFAULT_HOLD_RULES: HoldRules = { minRealTimeFactor: 0.97, maxDroppedShare: 0.01 };

/** Why a round did not hold real time; empty when it did. */
export function realTimeProblems(
  recordings: readonly RecordingFigures[],
  wantRecordings: number,
  rules: HoldRules = DEFAULT_HOLD_RULES,
): string[] {
  const problems: string[] = [];
  if (recordings.length < wantRecordings)
    problems.push(
      `${wantRecordings - recordings.length} of ${wantRecordings} recordings left no snippet`,
    );
  for (const r of recordings) {
    const name = `${r.livestreamId}/${r.track}`;
    if (r.delivered < r.expected)
      problems.push(`${name}: ${r.delivered} of ${r.expected} snippets`);
    if (r.holes > 0) problems.push(`${name}: ${r.holes} hole(s) between snippets`);
    if (r.late > 0) problems.push(`${name}: ${r.late} late snippet(s)`);
    if (r.realTimeFactor !== null && r.realTimeFactor < rules.minRealTimeFactor)
      problems.push(`${name}: real-time factor ${r.realTimeFactor.toFixed(3)}`);
    if (r.expectedFrames > 0 && r.droppedFrames / r.expectedFrames > rules.maxDroppedShare)
      problems.push(`${name}: ${r.droppedFrames} of ${r.expectedFrames} frames dropped`);
  }
  return problems;
}

/** A host whose publish the node lost during a round (a `tapedeck.host.dropped` event). */
export interface HostDrop {
  livestreamId: string;
  hostId: string;
  atMs: number;
  detail?: string;
}

/**
 * A round whose hosts dropped off does not hold, whatever its snippets say: a recording of a host
 * that is gone ends early, and one that ends near the window's end can still look complete.
 */
export function hostDropProblems(drops: readonly HostDrop[], hosts: number): string[] {
  if (drops.length === 0) return [];
  const first = [...drops].sort((a, b) => a.atMs - b.atMs)[0]!;
  const names = [...new Set(drops.map((d) => `${d.livestreamId}/${d.hostId}`))];
  return [
    `${names.length} of ${hosts} hosts dropped off, first ${first.livestreamId}/${first.hostId} ` +
      `at ${utcClock(first.atMs)}${first.detail ? ` (${first.detail})` : ''}`,
  ];
}

/** A host as the ingest saw it when a round's window ended. */
export interface HostAtEnd {
  livestreamId: string;
  hostId: string;
  connection: 'absent' | 'publishing' | 'dropped';
}

/**
 * Hosts that were not publishing when the window ended: the recorders they fed starved, and a
 * round judged only by its recorders would blame them.
 */
export function notPublishingProblems(hosts: readonly HostAtEnd[]): string[] {
  const gone = hosts.filter((h) => h.connection !== 'publishing');
  if (gone.length === 0) return [];
  const shown = gone.slice(0, 4).map((h) => `${h.livestreamId}/${h.hostId} (${h.connection})`);
  return [
    `${gone.length} of ${hosts.length} hosts were not publishing when the window ended: ` +
      `${shown.join(', ')}${gone.length > shown.length ? ', …' : ''}`,
  ];
}

/** What reached the ingest from one host's publishers, and what was sent but never did. */
export interface HostArrivals {
  livestreamId: string;
  hostId: string;
  packets: number;
  lost: number;
  /** How much later than its RTP time the host's sound reached the ingest (ms), at worst. */
  soundLateMs?: { worst: number };
}

/**
 * More than this share of RTP lost on the way into the ingest fails a round. Loopback loses
 * nothing by itself: a loss is the ingest falling behind, and each lost video packet spoils
 * pictures up to the next keyframe, which the dropped-frames count cannot see (the recorder
 * repeats the last good picture).
 */
export const MAX_INGEST_LOSS = 0.001;

/** Packets that reached the ingest, and that the publishers sent but never did, summed. */
export function arrivalTotals(arrivals: readonly HostArrivals[]): {
  packets: number;
  lost: number;
  soundLateWorstMs: number;
} {
  return {
    packets: arrivals.reduce((n, a) => n + a.packets, 0),
    lost: arrivals.reduce((n, a) => n + a.lost, 0),
    soundLateWorstMs: Math.round(
      arrivals.reduce((n, a) => Math.max(n, a.soundLateMs?.worst ?? 0), 0),
    ),
  };
}

export function ingestLossProblems(
  arrivals: readonly HostArrivals[],
  maxShare = MAX_INGEST_LOSS,
): string[] {
  const lost = arrivals.reduce((n, a) => n + a.lost, 0);
  const sent = arrivals.reduce((n, a) => n + a.packets + a.lost, 0);
  if (sent === 0 || lost / sent <= maxShare) return [];
  const worst = [...arrivals].sort((a, b) => b.lost - a.lost)[0]!;
  return [
    `${lost} of ${sent} RTP packets (${((lost / sent) * 100).toFixed(2)} %) never reached the ingest; ` +
      `most from ${worst.livestreamId}/${worst.hostId} (${worst.lost})`,
  ];
}

/**
 * The same share for what the ingest forwarded to recorders that never read it: on loopback the
 * recorder fell behind and its socket overflowed.
 */
export function recorderMissProblems(
  missed: number,
  forwarded: number,
  maxShare = MAX_INGEST_LOSS,
): string[] {
  if (forwarded === 0 || missed / forwarded <= maxShare) return [];
  return [
    `the recorders missed ${missed} of about ${forwarded} RTP packets forwarded to them ` +
      `(${((missed / forwarded) * 100).toFixed(2)} %): they fell behind`,
  ];
}

/**
 * The bench's hosts send a clean moving picture and a steady tone, so every review of a round is
 * the recordings' own loss (sound their mixers dropped as late, a picture that stood still) or a
 * false alarm of scoring's: either way the round did not keep what it was sent. Two rounds of
 * three livestreams on 2026-12-06 held by every other measure while each of their 15 recordings
 * dropped sound as late for up to a minute, and scoring sent 19 and 34 reviews.
 */
export function reviewProblems(reviews: number): string[] {
  return reviews === 0
    ? []
    : [
        `${reviews} review(s) of hosts that sent a clean picture and sound: the recordings lost ` +
          `some (the lines above say what scoring found, the node's log why: e.g. sound its ` +
          `mixers dropped as late)`,
      ];
}

/** A moment as the round's lines give it: UTC time of day to the millisecond. */
export function utcClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** One review as the round prints it: the track and each finding, dated in UTC, with its length. */
export function reviewLine(r: Pick<Review, 'livestreamId' | 'track' | 'findings'>): string {
  const findings = r.findings.map(
    (f) =>
      `${f.impairment} ${((f.endMs - f.startMs) / 1000).toFixed(1)} s from ${utcClock(f.startMs)} (score ${f.score})`,
  );
  return `review of ${r.livestreamId}/${r.track}: ${findings.join('; ') || 'no finding'}`;
}

export interface Attempt {
  livestreams: number;
  holds: boolean;
}

/**
 * The next number of livestreams to try, or null when the search is over: up from the first
 * count while it holds, down while it does not, never past maxLivestreams or below 1, and
 * never a count already tried.
 */
export function nextLivestreams(
  attempts: readonly Attempt[],
  maxLivestreams: number,
): number | null {
  if (attempts.length === 0) return null;
  const tried = new Set(attempts.map((a) => a.livestreams));
  const last = attempts.at(-1)!;
  const next = last.holds ? last.livestreams + 1 : last.livestreams - 1;
  if (next < 1 || next > maxLivestreams || tried.has(next)) return null;
  return next;
}

/** The largest count that held real time, 0 when none did. */
export function largestHolding(attempts: readonly Attempt[]): number {
  return Math.max(0, ...attempts.filter((a) => a.holds).map((a) => a.livestreams));
}
