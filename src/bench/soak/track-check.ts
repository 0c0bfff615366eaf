import { parseSnippetKey, type Variant } from '../../domain/snippet-key.ts';

/**
 * The end-of-run check over what a soak left behind: the objects in the store, the events on the
 * bus and the gaps announced there. Every moment of every track must be in a snippet or inside
 * an announced gap; every object must be whole, announced once, with the hash its event gives.
 */

/** One object as read back from the store. */
export interface StoredObject {
  key: string;
  bytes: number;
  /** sha256 of the bytes read back. */
  sha256: string;
  playable: boolean;
  /** Why it is not playable. */
  problem?: string;
  /** Duration from the object's own index, when it could be read. */
  durationMs?: number;
}

/** A tapedeck.snippet.ready event as it sits on the bus (repeats included). */
export interface ReadyEvent {
  id: string;
  key: string;
  sha256: string;
  bytes: number;
  startMs: number;
  endMs: number;
  recovered: boolean;
}

export interface AnnouncedGap {
  livestreamId: string;
  track: string;
  fromMs: number;
  toMs: number;
}

/** What the workflows say a recording covered: numbers firstSeq..lastSeq were opened. */
export interface RecordedSegment {
  livestreamId: string;
  track: string;
  variant: Variant;
  firstSeq: number;
  lastSeq: number | null;
  startedAtMs: number;
  endedAtMs: number | null;
}

export interface TrackCheckInput {
  objects: readonly StoredObject[];
  events: readonly ReadyEvent[];
  gaps: readonly AnnouncedGap[];
  segments?: readonly RecordedSegment[];
  /** Stretches a host was not publishing (left, or dropped past the grace): no hole, no loss. */
  away?: readonly AnnouncedGap[];
  /** Seams and clock slack smaller than this are not holes. */
  toleranceMs?: number;
}

export type FindingKind =
  'lost' | 'unplayable' | 'sha-mismatch' | 'unannounced' | 'duplicate-object' | 'duplicate-event';

export interface Finding {
  kind: FindingKind;
  track: string;
  what: string;
}

export interface TrackSummary {
  livestreamId: string;
  track: string;
  mp4: number;
  mp3: number;
  recovered: number;
  /** Snippet numbers missing, and holes in time, that an announced gap covers. */
  missingInGaps: number;
  holesInGaps: number;
  /** Holes while the host was away. */
  holesWhileAway: number;
  gaps: number;
  gapMs: number;
  /** First snippet start to last snippet end. */
  spanMs: number;
}

export interface TrackCheckResult {
  objects: number;
  events: number;
  gaps: number;
  tracks: TrackSummary[];
  lostOutsideGaps: number;
  inGaps: number;
  unplayable: number;
  shaMismatches: number;
  unannounced: number;
  duplicateObjects: number;
  duplicateEvents: number;
  findings: Finding[];
}

interface Placed {
  key: string;
  variant: Variant;
  seq: number;
  startMs: number;
  endMs: number;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

/** Gaps widened by the tolerance and merged, so back-to-back gaps cover what lies across them. */
export function mergeGaps(
  gaps: readonly { fromMs: number; toMs: number }[],
  toleranceMs: number,
): { fromMs: number; toMs: number }[] {
  const sorted = gaps
    .map((g) => ({ fromMs: g.fromMs - toleranceMs, toMs: g.toMs + toleranceMs }))
    .sort((a, b) => a.fromMs - b.fromMs);
  const out: { fromMs: number; toMs: number }[] = [];
  for (const g of sorted) {
    const last = out.at(-1);
    if (last && g.fromMs <= last.toMs) last.toMs = Math.max(last.toMs, g.toMs);
    else out.push({ ...g });
  }
  return out;
}

const covers = (merged: { fromMs: number; toMs: number }[], fromMs: number, toMs: number) =>
  merged.some((g) => g.fromMs <= fromMs && g.toMs >= toMs);
const touches = (merged: { fromMs: number; toMs: number }[], fromMs: number, toMs: number) =>
  merged.some((g) => g.fromMs <= toMs && g.toMs >= fromMs);

export function checkTracks(input: TrackCheckInput): TrackCheckResult {
  const tol = input.toleranceMs ?? 2_000;
  const findings: Finding[] = [];
  const add = (kind: FindingKind, track: string, what: string) =>
    findings.push({ kind, track, what });

  // Events: one per id is the promise; a repeat on the bus is a duplicate event.
  const eventsByKey = new Map<string, ReadyEvent>();
  const seenIds = new Map<string, number>();
  for (const e of input.events) {
    seenIds.set(e.id, (seenIds.get(e.id) ?? 0) + 1);
    const first = eventsByKey.get(e.key);
    if (!first) eventsByKey.set(e.key, e);
    else if (first.sha256 !== e.sha256)
      add(
        'duplicate-event',
        trackOf(e.key),
        `${e.key}: announced twice with different content (${first.sha256.slice(0, 12)}…, ${e.sha256.slice(0, 12)}…)`,
      );
  }
  let duplicateEvents = findings.length;
  for (const [id, n] of seenIds)
    if (n > 1) {
      duplicateEvents += n - 1;
      const e = input.events.find((x) => x.id === id)!;
      add('duplicate-event', trackOf(e.key), `${e.key}: event ${id} on the bus ${n} times`);
    }

  const objectKeys = new Set(input.objects.map((o) => o.key));
  const byTrack = new Map<string, { livestreamId: string; track: string; placed: Placed[] }>();
  const trackEntry = (livestreamId: string, track: string) => {
    const id = `${livestreamId}/${track}`;
    let t = byTrack.get(id);
    if (!t) byTrack.set(id, (t = { livestreamId, track, placed: [] }));
    return t;
  };
  let unplayable = 0;
  let shaMismatches = 0;
  let unannounced = 0;
  const recoveredCount = new Map<string, number>();
  for (const o of input.objects) {
    const k = parseSnippetKey(o.key);
    const id = `${k.livestreamId}/${k.track}`;
    const e = eventsByKey.get(o.key);
    if (!o.playable) {
      unplayable++;
      add('unplayable', id, `${o.key}: ${o.problem ?? 'not playable'}`);
    }
    if (!e) {
      unannounced++;
      add('unannounced', id, `${o.key}: in the store, never announced on the bus`);
    } else {
      if (e.sha256 !== o.sha256 || e.bytes !== o.bytes) {
        shaMismatches++;
        add(
          'sha-mismatch',
          id,
          `${o.key}: store has ${o.bytes} bytes sha256 ${o.sha256.slice(0, 12)}…, event says ${e.bytes} bytes ${e.sha256.slice(0, 12)}…`,
        );
      }
      if (e.recovered) recoveredCount.set(id, (recoveredCount.get(id) ?? 0) + 1);
    }
    const endMs = e?.endMs ?? k.startMs + (o.durationMs ?? 15_000);
    trackEntry(k.livestreamId, k.track).placed.push({
      key: o.key,
      variant: k.variant,
      seq: k.seq,
      startMs: k.startMs,
      endMs,
    });
  }

  let lostOutsideGaps = 0;
  for (const [key, e] of eventsByKey)
    if (!objectKeys.has(key)) {
      lostOutsideGaps++;
      add('lost', trackOf(key), `${key}: announced (${iso(e.startMs)}), not in the store`);
    }
  // A track with announced gaps or recorded segments but no object at all is a track too.
  for (const g of input.gaps) trackEntry(g.livestreamId, g.track);
  for (const s of input.segments ?? []) trackEntry(s.livestreamId, s.track);

  let inGaps = 0;
  let duplicateObjects = 0;
  const tracks: TrackSummary[] = [];
  for (const [id, t] of [...byTrack].sort(([a], [b]) => a.localeCompare(b))) {
    const gaps = input.gaps.filter((g) => g.livestreamId === t.livestreamId && g.track === t.track);
    const merged = mergeGaps(gaps, tol);
    const away = mergeGaps(
      (input.away ?? []).filter((a) => a.livestreamId === t.livestreamId && a.track === t.track),
      tol,
    );
    const summary: TrackSummary = {
      livestreamId: t.livestreamId,
      track: t.track,
      mp4: t.placed.filter((p) => p.variant === 'mp4').length,
      mp3: t.placed.filter((p) => p.variant === 'mp3').length,
      recovered: recoveredCount.get(id) ?? 0,
      missingInGaps: 0,
      holesInGaps: 0,
      holesWhileAway: 0,
      gaps: gaps.length,
      gapMs: gaps.reduce((s, g) => s + (g.toMs - g.fromMs), 0),
      spanMs: 0,
    };

    for (const variant of ['mp4', 'mp3'] as const) {
      const list = t.placed.filter((p) => p.variant === variant).sort((a, b) => a.seq - b.seq);
      // One number, one object.
      for (let i = 1; i < list.length; i++)
        if (list[i]!.seq === list[i - 1]!.seq) {
          duplicateObjects++;
          add(
            'duplicate-object',
            id,
            `${variant} #${list[i]!.seq} stored twice: ${list[i - 1]!.key} and ${list[i]!.key}`,
          );
        }
      // The same moment in two objects of one variant is a duplicate too (two recordings of the
      // track running at once), beyond what seams and clock slack explain.
      const byTime = [...list].sort((a, b) => a.startMs - b.startMs);
      for (let i = 1; i < byTime.length; i++) {
        const prev = byTime[i - 1]!;
        const cur = byTime[i]!;
        if (prev.seq !== cur.seq && prev.endMs - cur.startMs > tol) {
          duplicateObjects++;
          add(
            'duplicate-object',
            id,
            `${variant}: ${prev.key} and ${cur.key} overlap by ${((prev.endMs - cur.startMs) / 1000).toFixed(1)} s`,
          );
        }
      }
      // Numbering is contiguous from 0 up to the last number any recording opened.
      const segs = (input.segments ?? []).filter(
        (s) => s.livestreamId === t.livestreamId && s.track === t.track && s.variant === variant,
      );
      const present = new Set(list.map((p) => p.seq));
      const maxSeq = Math.max(
        list.at(-1)?.seq ?? -1,
        ...segs.map((s) => (s.lastSeq === null ? -1 : s.lastSeq)),
      );
      const trackEnd = Math.max(
        0,
        ...segs.map((s) => s.endedAtMs ?? 0),
        ...t.placed.map((p) => p.endMs),
      );
      for (let n = 0; n <= maxSeq; n++) {
        if (present.has(n)) continue;
        const prev = list.filter((p) => p.seq < n).at(-1);
        const next = list.find((p) => p.seq > n);
        const fromMs = prev ? prev.endMs : -Infinity;
        const toMs = next ? next.startMs : trackEnd;
        if (touches(merged, fromMs, toMs)) {
          inGaps++;
          summary.missingInGaps++;
        } else {
          lostOutsideGaps++;
          add(
            'lost',
            id,
            `${variant} #${n} missing (between ${prev ? `#${prev.seq}` : 'the start'} and ${next ? `#${next.seq}` : 'the end'}, ${iso(fromMs)} to ${iso(toMs)}) and no gap announced there`,
          );
        }
      }
    }

    // Time: MP4 and MP3 together cover the track from its first snippet to its last.
    const ordered = [...t.placed].sort((a, b) => a.startMs - b.startMs);
    let reach = ordered[0]?.endMs ?? 0;
    for (const p of ordered.slice(1)) {
      if (p.startMs - reach > tol) {
        if (covers(merged, reach, p.startMs)) {
          inGaps++;
          summary.holesInGaps++;
        } else if (covers(away, reach, p.startMs)) {
          summary.holesWhileAway++;
        } else {
          lostOutsideGaps++;
          add(
            'lost',
            id,
            `nothing recorded from ${iso(reach)} to ${iso(p.startMs)} (${((p.startMs - reach) / 1000).toFixed(1)} s, until ${p.key}) and no gap announced there`,
          );
        }
      }
      reach = Math.max(reach, p.endMs);
    }
    summary.spanMs = ordered.length ? reach - ordered[0]!.startMs : 0;
    tracks.push(summary);
  }

  return {
    objects: input.objects.length,
    events: input.events.length,
    gaps: input.gaps.length,
    tracks,
    lostOutsideGaps,
    inGaps,
    unplayable,
    shaMismatches,
    unannounced,
    duplicateObjects,
    duplicateEvents,
    findings,
  };
}

function trackOf(key: string): string {
  try {
    const k = parseSnippetKey(key);
    return `${k.livestreamId}/${k.track}`;
  } catch {
    return key;
  }
}
