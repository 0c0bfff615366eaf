/**
 * Tells when the recorder itself was held up: a process the machine starves (or stops) runs its
 * periodic timer late by about as long. Its mixers wait 200 ms for late input, so a hold-up well
 * past that records silence and a repeated picture for its length: the recording's fault, not
 * the host's, and it should say so rather than leave it to look like the host's.
 */
export class HoldUp {
  private lastMs: number | null = null;

  /** `periodMs`: how often tick() is called; `thresholdMs`: lateness worth telling. */
  constructor(
    private readonly periodMs: number,
    private readonly thresholdMs: number,
  ) {
    if (!(periodMs > 0)) throw new RangeError('periodMs must be above 0');
    if (!(thresholdMs > 0)) throw new RangeError('thresholdMs must be above 0');
  }

  /** One tick at `nowMs`: the hold-up before it (ms past the period), or null when on time. */
  tick(nowMs: number): { fromMs: number; ms: number } | null {
    const last = this.lastMs;
    this.lastMs = nowMs;
    if (last === null) return null;
    const late = nowMs - last - this.periodMs;
    return late >= this.thresholdMs ? { fromMs: last + this.periodMs, ms: late } : null;
  }
}
