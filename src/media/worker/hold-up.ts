/**
 * Tells when the recorder itself was held up: a process the machine starves (or stops) runs its
 * periodic timer late by about as long. Its mixers wait 200 ms for late input, so a hold-up well
 * past that records silence and a repeated picture for its length: the recording's fault, not
 * the host's, and it should say so rather than leave it to look like the host's.
 *
 * A tick `late` ms past its time bounds the hold-up: over `late` (the tick itself was held), and
 * at most `late` plus a period (it may have begun right after the tick before). The middle of
 * that is told, so the figure is within half a period of the truth.
 */
export class HoldUp {
  private lastMs: number | null = null;

  /**
   * `periodMs`: how often tick() is called; `thresholdMs`: lateness worth telling; `startedAtMs`:
   * when the timer was set, so that a hold-up before its first tick is told too (a recorder
   * stopped in its first second said nothing).
   */
  constructor(
    private readonly periodMs: number,
    private readonly thresholdMs: number,
    startedAtMs?: number,
  ) {
    if (!(periodMs > 0)) throw new RangeError('periodMs must be above 0');
    if (!(thresholdMs > 0)) throw new RangeError('thresholdMs must be above 0');
    this.lastMs = startedAtMs ?? null;
  }

  /**
   * One tick at `nowMs`: the hold-up that ended at it (its estimated start and length, and how
   * far either may be off), or null when the tick came on time.
   */
  tick(nowMs: number): { fromMs: number; ms: number; withinMs: number } | null {
    const last = this.lastMs;
    this.lastMs = nowMs;
    if (last === null) return null;
    const late = nowMs - last - this.periodMs;
    if (late < this.thresholdMs) return null;
    const withinMs = this.periodMs / 2;
    const ms = late + withinMs;
    return { fromMs: nowMs - ms, ms, withinMs };
  }
}
