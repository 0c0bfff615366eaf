/**
 * Says while a round runs when the hosts' sound reaches the ingest late against its RTP time (see
 * ArrivalLag): the recorders' mixers drop sound that comes later than they wait, so these lines,
 * beside the recorders' "reached the mixer too late" warnings, tell a publisher or an ingest that
 * fell behind from a recorder that did.
 */
export const SOUND_LATE_MS = 300;
const REPEAT_MS = 5_000;

export interface SoundLateState {
  flagged: boolean;
  lastLineMs: number;
}

/** The line to print for the latest look, if any: on crossing, every 5 s while late, on return. */
export function soundLateLine(
  state: SoundLateState,
  worst: { who: string; ms: number } | null,
  nowMs: number,
): string | null {
  const late = worst !== null && worst.ms >= SOUND_LATE_MS;
  if (late && (!state.flagged || nowMs - state.lastLineMs >= REPEAT_MS)) {
    state.flagged = true;
    state.lastLineMs = nowMs;
    return `ingest: the hosts' sound reaches it up to ${Math.round(worst.ms)} ms behind its RTP time (${worst.who})`;
  }
  if (!late && state.flagged) {
    state.flagged = false;
    state.lastLineMs = nowMs;
    return `ingest: the hosts' sound is back within ${SOUND_LATE_MS} ms of its RTP time`;
  }
  return null;
}

/** Looks once a second until stopped. */
export function watchSoundLate(
  look: () => { who: string; ms: number }[],
  say: (line: string) => void,
): () => void {
  const state: SoundLateState = { flagged: false, lastLineMs: 0 };
  const timer = setInterval(() => {
    const all = look();
    const worst = all.reduce<{ who: string; ms: number } | null>(
      (w, x) => (w === null || x.ms > w.ms ? x : w),
      null,
    );
    const line = soundLateLine(state, worst, Date.now());
    if (line) say(line);
  }, 1_000);
  return () => clearInterval(timer);
}
