import { sharedVideoOf } from './inputs.ts';
import type { RecordingSpec } from './spec.ts';

/**
 * How long the mixers wait past a frame's deadline for an input that is late. A live mixer
 * waits only as long as its inputs report they need (one frame for a test camera, one buffer
 * for a test microphone); an input whose thread is held up longer than that on a busy machine
 * misses its slot, the mixer repeats its previous frame, and the picture lands a frame (67 ms)
 * off its sound. A CI run saw exactly that: 68 ms in a composite whose inputs measure 1-5 ms
 * everywhere else. Waiting longer only delays when a snippet is written, never its timestamps.
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
