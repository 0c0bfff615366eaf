import {
  scoreAudio,
  scoreVideo,
  type QualityScore,
  type QualityThresholds,
} from '../domain/quality-rules.ts';
import {
  FINE_PICTURE_SEC,
  measureSnippet,
  PICTURE_SEC,
  type SnippetMeasurements,
} from './measure.ts';

export interface SnippetScores {
  durationSec: number;
  audio: QualityScore;
  video: QualityScore | null;
  /** CPU seconds of every decode the scores took. */
  decodeCpuSec: number;
  /** How far apart the pictures the video score comes from were. */
  pictureSec: number | null;
}

export type Measure = (
  file: string,
  o: { hasVideo: boolean; pictureSec: number },
) => Promise<SnippetMeasurements>;

/**
 * Measures a snippet and scores it. Pictures a second apart find every still or black stretch of
 * 3 s or more, but one of 2 to 3 s can cover three of them and read as 3 s: a composite's
 * placeholders at the start of a livestream did. So a picture score with a finding is measured
 * again at twice the rate and scored on that, which costs a second decode only for what is flagged.
 *
 * `adjust` changes the measurements before they are scored (the scorer leaves out off-air time).
 */
export async function scoreSnippet(
  file: string,
  o: {
    hasVideo: boolean;
    thresholds: QualityThresholds;
    adjust?: (m: SnippetMeasurements) => SnippetMeasurements;
    measure?: Measure;
  },
): Promise<SnippetScores> {
  const measure = o.measure ?? measureSnippet;
  const adjust = o.adjust ?? ((m) => m);
  const first = await measure(file, { hasVideo: o.hasVideo, pictureSec: PICTURE_SEC });
  const m = adjust(first);
  const audio = scoreAudio(m.audio, m.durationSec, o.thresholds);
  let video = m.video ? scoreVideo(m.video, m.durationSec, o.thresholds) : null;
  let decodeCpuSec = first.decodeCpuSec;
  let pictureSec = m.video ? PICTURE_SEC : null;
  if (video && video.reasons.length > 0) {
    const fine = await measure(file, { hasVideo: true, pictureSec: FINE_PICTURE_SEC });
    decodeCpuSec += fine.decodeCpuSec;
    const f = adjust(fine);
    if (f.video) {
      video = scoreVideo(f.video, f.durationSec, o.thresholds);
      pictureSec = FINE_PICTURE_SEC;
    }
  }
  return { durationSec: m.durationSec, audio, video, decodeCpuSec, pictureSec };
}
