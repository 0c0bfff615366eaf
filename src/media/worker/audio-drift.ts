/**
 * Keeps a microphone's sound on the recorder's clock when the sender's sound card runs off it.
 *
 * The audio jitter buffer times packets by RTP time from the first one's arrival, so a stall of
 * the recorder or of the sender moves nothing. RTP time counts the sender's samples, though: a
 * card 50 ppm slow puts its sound 180 ms an hour further behind our clock, and once that passes
 * the mixer's latency the mixer drops every buffer as late. The guard watches how far the last
 * timestamp out of the jitter buffer lags the clock, once a second, and moves the timestamps by
 * the drift when the window's smallest lag has moved by `thresholdNs` from the first window's.
 * The smallest lag of a window is the packet that arrived soonest: jitter and stalls only make
 * lags larger for a while, so they do not move it.
 *
 * A lag can also change because the way in got slower or faster for longer than a window: a
 * machine busy starting fifteen recordings held every host's sound up by 0.4 to 1.2 s for 10 to
 * 25 s. Followed as drift, each such change cost sound twice: the move later came after the mixer
 * had dropped a window of it, and the move back, once the delay passed, put that much sound behind
 * what was already mixed, where the mixer dropped it again. No sound card runs 1 % off, so a change
 * faster than that is the path, not the clock: a lag that fell takes the reference down with it
 * (the reference held a delay that has passed, and nothing moves), and one that rose moves
 * nothing until it has lasted long enough to be drift at that rate (100 s for 1 s).
 */
export interface AudioDriftOptions {
  /** Lags per window; the recorder takes one a second. */
  windowSamples?: number;
  /**
   * Drift that moves the timestamps: well inside the mixer's latency, and above the position's own
   * noise, one packet (20 ms): the look lands anywhere between two packets out of the buffer. At
   * 40 ms a sender 0.5 % slow (50 ms a window) now and then came out at 39 in one window and was
   * followed only in the next, when its sound was 100 ms off.
   */
  thresholdNs?: number;
  /** The fastest drift a sound card has, as a share of the time since the reference was set. */
  maxRate?: number;
}

export class AudioDrift {
  private readonly windowSamples: number;
  private readonly thresholdNs: number;
  private readonly maxRate: number;
  private reference: number | null = null;
  /** When the reference was taken or last followed (running time, ns). */
  private referenceAt = 0;
  private window: number[] = [];
  private lastPosition: bigint | null = null;

  constructor(o: AudioDriftOptions = {}) {
    this.windowSamples = o.windowSamples ?? 10;
    this.thresholdNs = o.thresholdNs ?? 30_000_000;
    this.maxRate = o.maxRate ?? 0.01;
    if (!(this.windowSamples >= 2)) throw new RangeError('windowSamples must be 2 or more');
    if (!(this.thresholdNs > 0)) throw new RangeError('thresholdNs must be above 0');
    if (!(this.maxRate > 0 && this.maxRate < 1)) throw new RangeError('maxRate must be in (0, 1)');
  }

  /**
   * One look at the jitter buffer: the running time now and the last timestamp it sent. Returns
   * how far to move its timestamps (ns, later when positive), or null. A position that has not
   * moved since the last look is a microphone sending nothing, which says nothing about drift.
   * Lags are measured afresh after a move: the next window starts empty.
   */
  sample(runningTimeNs: bigint, positionNs: bigint): number | null {
    if (positionNs === this.lastPosition) return null;
    this.lastPosition = positionNs;
    this.window.push(Number(runningTimeNs - positionNs));
    if (this.window.length < this.windowSamples) return null;
    const smallest = Math.min(...this.window);
    this.window = [];
    const at = Number(runningTimeNs);
    if (this.reference === null) {
      this.reference = smallest;
      this.referenceAt = at;
      return null;
    }
    const drift = smallest - this.reference;
    if (Math.abs(drift) < this.thresholdNs) return null;
    if (Math.abs(drift) > this.maxRate * (at - this.referenceAt)) {
      if (drift < 0) {
        this.reference = smallest;
        this.referenceAt = at;
      }
      return null;
    }
    this.referenceAt = at;
    return drift;
  }
}
