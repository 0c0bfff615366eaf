import { sharedVideoOf } from './inputs.ts';
import type { RecordingSpec } from './spec.ts';

/**
 * How long the mixers wait past a frame's deadline for an input that is late, on top of what
 * their inputs report: the longest of those is the video mixer's 200 ms (a placeholder tile runs
 * at 5 fps and reports a frame) and the audio mixer's 40 ms (one buffer; 100 ms without video). An input held up longer
 * than that on a busy machine misses its slot: the audio mixer drops its sound, the video mixer
 * repeats its previous frame and the picture lands a frame (67 ms) off its sound. A CI run saw
 * 68 ms in a composite of test sources that measures 1 to 7 ms everywhere else. Waiting longer
 * delays a snippet only while an input is late, and never moves a timestamp.
 */
export const MIXER_LATENCY_NS = 200_000_000;

/**
 * How late a shared decoder's frames may reach the mixer after their timestamps: its jitter
 * buffer holds them 100 ms, then decoding, scaling and the hand-over take their time. A mixer
 * waits this much for inputs without a latency of their own to report.
 */
export const SHARED_PICTURE_LATENCY_NS = 300_000_000;

/**
 * The mixers' latencies, set before the pipeline plays: a mixer whose latency grows while it
 * runs skips output.
 */
export function mixerLatencyNs(spec: RecordingSpec): { video: number; audio: number } {
  const shared = spec.sharedPictures === true || spec.inputs.some((i) => sharedVideoOf(i) !== null);
  return { video: shared ? SHARED_PICTURE_LATENCY_NS : MIXER_LATENCY_NS, audio: MIXER_LATENCY_NS };
}
