import type { OffAir } from './presence-mask.ts';
import type { AudioWindow, VideoWindow } from './quality-rules.ts';
import type { TimeRange } from './time-range.ts';

/**
 * Measuring windows that fall while the track is off air are replaced by unremarkable ones (a
 * normal level, a busy moving picture), so no impairment is found there and a run of bad windows
 * is cut where the track goes off air: what is left must be long enough on its own.
 */
const QUIET_AUDIO = { rmsDb: -30, peakDb: -20, clippedShare: 0, hfRatio: 0 } as const;
const BUSY_VIDEO = { lumaMean: 128, lumaStdDev: 64, lumaChange: 255 } as const;

function inside(atSec: number, ranges: readonly { fromSec: number; toSec: number }[]): boolean {
  return ranges.some((r) => atSec >= r.fromSec && atSec < r.toSec);
}

/** Off-air ranges as seconds from the snippet's start. */
export function relativeSec(ranges: readonly TimeRange[], snippetStartMs: number) {
  return ranges.map((r) => ({
    fromSec: (r.startMs - snippetStartMs) / 1000,
    toSec: (r.endMs - snippetStartMs) / 1000,
  }));
}

export function maskOffAir(
  m: { audio: AudioWindow[]; video: VideoWindow[] | null },
  offAir: OffAir,
  snippetStartMs: number,
): { audio: AudioWindow[]; video: VideoWindow[] | null } {
  const audio = relativeSec(offAir.audio, snippetStartMs);
  const video = relativeSec(offAir.video, snippetStartMs);
  return {
    audio: m.audio.map((w) => (inside(w.atSec, audio) ? { ...w, ...QUIET_AUDIO } : w)),
    video: m.video?.map((w) => (inside(w.atSec, video) ? { ...w, ...BUSY_VIDEO } : w)) ?? null,
  };
}
