/**
 * Quality scoring of one snippet from measurements taken at a fixed interval. The measuring is
 * GStreamer's job (level for audio, per-frame luma statistics for video); everything that decides
 * is here, so thresholds can be tested and tuned without media.
 */

/** One audio measuring window: RMS and peak in dBFS (-Infinity for digital silence). */
export interface AudioWindow {
  /** Seconds from the snippet's start to the window's start. */
  atSec: number;
  rmsDb: number;
  peakDb: number;
  /** Share of samples at full scale (0 to 1). */
  clippedShare: number;
  /**
   * RMS of the sample-to-sample difference over the RMS: how much of the energy is high up.
   * White noise keeps about 0.55 even after a low-bitrate coder has cut its top; voices, tones
   * and music stay below 0.3. Absent from measurements that do not take it.
   */
  hfRatio?: number;
}

/** One video measuring window. Luma on the 0–255 scale. */
export interface VideoWindow {
  atSec: number;
  lumaMean: number;
  /** Standard deviation of luma inside the picture: near 0 for a flat picture. */
  lumaStdDev: number;
  /** Mean absolute luma change against the previous window's frame: near 0 for a still picture. */
  lumaChange: number;
}

export type AudioImpairment = 'silence' | 'clipping' | 'noise';
export type VideoImpairment = 'black' | 'frozen';
export type Impairment = AudioImpairment | VideoImpairment;

export interface QualityThresholds {
  /** A run of bad windows at least this long is an impairment. */
  minRunSec: number;
  /**
   * How much shorter than minRunSec a run may be. An impairment seldom starts on a window
   * boundary, and lossy coding smears its edges by tens of milliseconds, so its first and last
   * windows are partly good and do not count: a 3-s silence measured in 0.1-s windows made a
   * run of 2.9 s. Two audio windows.
   */
  runSlackSec: number;
  /** RMS below this is silence. */
  silenceRmsDb: number;
  /**
   * A window with at least this share of its samples at full scale is clipped. A share, not a
   * peak: after lossy coding loud noise overshoots full scale now and then, while an overdriven
   * signal sits there for most of its samples.
   */
  clippingShare: number;
  /**
   * RMS above this is loud noise, for windows measured without hfRatio only: there loudness alone
   * decides. With hfRatio it does not: a loud mix of four hosts (tones, voices) reaches -8 dBFS
   * without being noise, and was flagged by this rule in the demo's composite.
   */
  noiseRmsDb: number;
  /**
   * RMS above this with hfRatio at least noiseHfRatio is noise too. Loud white noise comes out
   * of a 44-kbit/s AAC coder 6 dB quieter than it went in (the coder drops everything above
   * about 10 kHz), so noiseRmsDb alone missed it; the share of high frequencies tells it apart
   * from speech and music as loud.
   */
  broadbandNoiseRmsDb: number;
  noiseHfRatio: number;
  /** A picture darker and flatter than these is black. */
  blackLumaMean: number;
  blackLumaStdDev: number;
  /**
   * Less change than this between windows is a frozen picture (flat pictures count as black).
   * A still of a detailed picture coded at 5 Mbit/s with a keyframe every 5 frames flickers by
   * up to 0.9 between windows, while the least moving picture tried (a small ball crossing a
   * black picture) changed by 1.5 at least.
   */
  frozenLumaChange: number;
  /** Scores below this send the snippet to review. */
  reviewBelow: number;
}

export const DEFAULT_QUALITY_THRESHOLDS: QualityThresholds = {
  minRunSec: 3,
  runSlackSec: 0.2,
  silenceRmsDb: -60,
  clippingShare: 0.05,
  noiseRmsDb: -10,
  broadbandNoiseRmsDb: -20,
  noiseHfRatio: 0.4,
  blackLumaMean: 24,
  blackLumaStdDev: 6,
  frozenLumaChange: 1,
  reviewBelow: 60,
};

export interface QualityReason {
  impairment: Impairment;
  /** Seconds from the snippet's start. */
  fromSec: number;
  toSec: number;
}

export interface QualityScore {
  /** 0 (unusable) to 100 (nothing found). */
  score: number;
  reasons: QualityReason[];
}

export class QualityThresholdError extends Error {
  override name = 'QualityThresholdError';
}

/** Throws with every problem named; returns the thresholds with the defaults filled in. */
export function qualityThresholds(partial: Partial<QualityThresholds> = {}): QualityThresholds {
  const t = { ...DEFAULT_QUALITY_THRESHOLDS, ...partial };
  const problems: string[] = [];
  if (!(t.minRunSec > 0)) problems.push('minRunSec must be above 0');
  if (!(t.runSlackSec >= 0 && t.runSlackSec < t.minRunSec / 2))
    problems.push('runSlackSec must be 0 or more and below half of minRunSec');
  if (!(t.silenceRmsDb < t.broadbandNoiseRmsDb))
    problems.push('silenceRmsDb must be below broadbandNoiseRmsDb');
  if (!(t.noiseHfRatio > 0)) problems.push('noiseHfRatio must be above 0');
  if (!(t.reviewBelow >= 0 && t.reviewBelow <= 100)) problems.push('reviewBelow must be 0 to 100');
  if (!(t.silenceRmsDb < t.noiseRmsDb)) problems.push('silenceRmsDb must be below noiseRmsDb');
  if (!(t.clippingShare > 0 && t.clippingShare <= 1))
    problems.push('clippingShare must be above 0, at most 1');
  for (const k of ['blackLumaMean', 'blackLumaStdDev', 'frozenLumaChange'] as const)
    if (!(t[k] >= 0 && t[k] <= 255)) problems.push(`${k} must be 0 to 255`);
  if (problems.length) throw new QualityThresholdError(problems.join('; '));
  return t;
}

/** Runs of consecutive bad windows, as [from, to) in seconds; each window lasts until the next. */
export function badRuns<W extends { atSec: number }>(
  windows: readonly W[],
  isBad: (w: W, i: number) => boolean,
  endSec: number,
): { fromSec: number; toSec: number }[] {
  const runs: { fromSec: number; toSec: number }[] = [];
  let from: number | null = null;
  for (let i = 0; i < windows.length; i++) {
    if (!isBad(windows[i]!, i)) continue;
    from ??= windows[i]!.atSec;
    const last = i === windows.length - 1 || !isBad(windows[i + 1]!, i + 1);
    if (last) {
      runs.push({ fromSec: from, toSec: windows[i + 1]?.atSec ?? endSec });
      from = null;
    }
  }
  return runs;
}

function score(reasons: QualityReason[], durationSec: number, t: QualityThresholds): number {
  if (reasons.length === 0 || durationSec <= 0) return 100;
  // Any impairment puts the snippet below the review line; a longer one lowers it further.
  const impaired = reasons.reduce((s, r) => s + (r.toSec - r.fromSec), 0);
  const share = Math.min(1, impaired / durationSec);
  const top = Math.max(0, t.reviewBelow - 1);
  return Math.max(0, Math.round(top * (1 - share)));
}

/**
 * Runs long enough to be an impairment. A run that touches the snippet's start or end may go on
 * in the neighbouring snippet, so there half of the length is enough: an impairment of minRunSec
 * cut by a boundary leaves at least that much on one side.
 */
function reasonsFor(
  impairment: Impairment,
  runs: { fromSec: number; toSec: number }[],
  durationSec: number,
  t: QualityThresholds,
): QualityReason[] {
  const eps = 1e-9;
  return runs
    .filter((r) => {
      const edge = r.fromSec <= eps || r.toSec >= durationSec - eps;
      const needed = edge ? (t.minRunSec - t.runSlackSec) / 2 : t.minRunSec - t.runSlackSec;
      return r.toSec - r.fromSec >= needed - eps;
    })
    .map((r) => ({ impairment, ...r }));
}

/** The reasons in time order, with the score they give. */
function scored(reasons: QualityReason[], durationSec: number, t: QualityThresholds): QualityScore {
  reasons.sort((a, b) => a.fromSec - b.fromSec);
  return { score: score(reasons, durationSec, t), reasons };
}

export function scoreAudio(
  windows: readonly AudioWindow[],
  durationSec: number,
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): QualityScore {
  const t = thresholds;
  const silent = (w: AudioWindow) => w.rmsDb < t.silenceRmsDb;
  const clipped = (w: AudioWindow) => w.clippedShare >= t.clippingShare;
  const broadband = (w: AudioWindow) =>
    w.hfRatio !== undefined && w.hfRatio >= t.noiseHfRatio && w.rmsDb > t.broadbandNoiseRmsDb;
  const noisy = (w: AudioWindow) =>
    !clipped(w) && (w.hfRatio === undefined ? w.rmsDb > t.noiseRmsDb : broadband(w));
  return scored(
    [
      ...reasonsFor('silence', badRuns(windows, silent, durationSec), durationSec, t),
      ...reasonsFor('clipping', badRuns(windows, clipped, durationSec), durationSec, t),
      ...reasonsFor('noise', badRuns(windows, noisy, durationSec), durationSec, t),
    ],
    durationSec,
    t,
  );
}

export function scoreVideo(
  windows: readonly VideoWindow[],
  durationSec: number,
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): QualityScore {
  const t = thresholds;
  const black = (w: VideoWindow) =>
    w.lumaMean < t.blackLumaMean && w.lumaStdDev < t.blackLumaStdDev;
  // The first window has nothing to compare with; a black picture is reported as black only.
  const frozen = (w: VideoWindow, i: number) =>
    i > 0 && !black(w) && w.lumaChange < t.frozenLumaChange;
  // A window without change shows the picture of the window before it: the freeze began there.
  const frozenRuns = badRuns(windows, frozen, durationSec).map((r) => ({
    fromSec: windows[windows.findIndex((w) => w.atSec === r.fromSec) - 1]?.atSec ?? r.fromSec,
    toSec: r.toSec,
  }));
  return scored(
    [
      ...reasonsFor('black', badRuns(windows, black, durationSec), durationSec, t),
      ...reasonsFor('frozen', frozenRuns, durationSec, t),
    ],
    durationSec,
    t,
  );
}

export function needsReview(
  s: { audio: QualityScore; video: QualityScore | null },
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): boolean {
  return (
    s.audio.score < thresholds.reviewBelow ||
    (s.video !== null && s.video.score < thresholds.reviewBelow)
  );
}
