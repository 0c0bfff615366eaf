import { CAPTURE_PICTURE_SEC } from '../domain/picture-stats.ts';
import {
  scoreAudio,
  scoreVideo,
  type QualityScore,
  type QualityThresholds,
  type VideoWindow,
} from '../domain/quality-rules.ts';
import {
  FINE_PICTURE_SEC,
  measureSnippet,
  PICTURE_SEC,
  type SnippetMeasurements,
} from './measure.ts';

export interface SnippetScores {
  audio: QualityScore;
  video: QualityScore | null;
  /** CPU seconds of every decode the scores took. */
  decodeCpuSec: number;
  /** How far apart the pictures the video score comes from were. */
  pictureSec: number | null;
  /** Where those pictures came from: measured as recorded, or decoded from the file. */
  picturesFrom: 'recording' | 'file' | null;
}

export type Measure = (
  file: string,
  o: { hasVideo: boolean; pictureSec: number; pictures?: boolean },
) => Promise<SnippetMeasurements>;

/**
 * Measures a snippet and scores it. Pictures a second apart find every still or black stretch of
 * 3 s or more, but one of 2 to 3 s can cover three of them and read as 3 s: a composite's
 * placeholders at the start of a livestream did. So a picture score with a finding is measured
 * again at twice the rate and scored on that, which costs a second decode only for what is flagged.
 *
 * `adjust` changes the measurements before they are scored (the scorer leaves out off-air time).
 *
 * Pictures measured as recorded (a snippet event's `pictures`, half a second apart) are scored as
 * they are, and only the sound is decoded.
 */
export async function scoreSnippet(
  file: string,
  o: {
    hasVideo: boolean;
    thresholds: QualityThresholds;
    adjust?: (m: SnippetMeasurements) => SnippetMeasurements;
    measure?: Measure;
    /** The snippet's pictures as recorded (its event's): then only its sound is decoded. */
    pictures?: VideoWindow[];
  },
): Promise<SnippetScores> {
  const measure = o.measure ?? measureSnippet;
  const adjust = o.adjust ?? ((m) => m);
  if (o.hasVideo && o.pictures) {
    const sound = await measure(file, {
      hasVideo: true,
      pictureSec: CAPTURE_PICTURE_SEC,
      pictures: false,
    });
    const m = adjust({ ...sound, video: o.pictures });
    return {
      audio: scoreAudio(m.audio, m.durationSec, o.thresholds),
      video: scoreVideo(m.video!, m.durationSec, o.thresholds),
      decodeCpuSec: m.decodeCpuSec,
      pictureSec: CAPTURE_PICTURE_SEC,
      picturesFrom: 'recording',
    };
  }
  const m = adjust(await measure(file, { hasVideo: o.hasVideo, pictureSec: PICTURE_SEC }));
  const audio = scoreAudio(m.audio, m.durationSec, o.thresholds);
  const coarse = m.video ? scoreVideo(m.video, m.durationSec, o.thresholds) : null;
  if (!coarse?.reasons.length)
    return {
      audio,
      video: coarse,
      decodeCpuSec: m.decodeCpuSec,
      pictureSec: m.video ? PICTURE_SEC : null,
      picturesFrom: m.video ? 'file' : null,
    };
  // The sound is decoded again too, unused: only for flagged snippets, which then cost an
  // escalation's merge of many times that, and one pipeline keeps measure's paths one.
  const fine = adjust(await measure(file, { hasVideo: true, pictureSec: FINE_PICTURE_SEC }));
  return {
    audio,
    video: fine.video ? scoreVideo(fine.video, fine.durationSec, o.thresholds) : coarse,
    decodeCpuSec: m.decodeCpuSec + fine.decodeCpuSec,
    pictureSec: fine.video ? FINE_PICTURE_SEC : PICTURE_SEC,
    picturesFrom: 'file',
  };
}
