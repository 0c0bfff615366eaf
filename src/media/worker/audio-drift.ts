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
 *
 * Sound timed ahead of the clock is another matter. The jitter buffer's base is when it read the
 * first packet, and a first packet that came late puts every later sound that much late against
 * its picture, for good. A publisher does exactly that once DTLS is set up: the sound it captured
 * meanwhile comes in one burst, and a composite that had the host's input waiting recorded the
 * host's sound 0.65 to 0.96 s behind the picture (15 of 16 hosts in four runs of a livestream).
 * Packets that come on time then leave the jitter buffer with timestamps ahead of the clock, which
 * sound from a first packet on time never does: two looks in a row more than `aheadNs` ahead move
 * the timestamps earlier by the larger of the two, once.
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
  /**
   * Sound this far ahead of the clock was timed late. Well past the position's own noise (the
   * first packet itself may come a few tens of ms late: looks at a host's sound since its start
   * showed it 3 to 72 ms ahead), and within the mixer's latency, so it is never a loss to wait.
   */
  aheadNs?: number;
}

/**
 * Further ahead than this is no burst a publisher sends but a position that means something else
 * (one from before the jitter buffer's first packet): left to the drift rules, which move nothing
 * that fast.
 */
const MAX_TIMED_LATE_NS = 10_000_000_000;

export interface AudioDriftMove {
  /** ns, later when positive. */
  ns: number;
  /** Drift of the sender's clock, or sound timed late from its first packet on. */
  cause: 'drift' | 'timed-late';
}

export class AudioDrift {
  private readonly windowSamples: number;
  private readonly thresholdNs: number;
  private readonly maxRate: number;
  private readonly aheadNs: number;
  private reference: number | null = null;
  /** The first of two looks in a row ahead of the clock by more than aheadNs. */
  private ahead: number | null = null;
  /** When the reference was taken or last followed (running time, ns). */
  private referenceAt = 0;
  private window: number[] = [];
  private lastPosition: bigint | null = null;

  constructor(o: AudioDriftOptions = {}) {
    this.windowSamples = o.windowSamples ?? 10;
    this.thresholdNs = o.thresholdNs ?? 30_000_000;
    this.maxRate = o.maxRate ?? 0.01;
    this.aheadNs = o.aheadNs ?? 200_000_000;
    if (!(this.windowSamples >= 2)) throw new RangeError('windowSamples must be 2 or more');
    if (!(this.thresholdNs > 0)) throw new RangeError('thresholdNs must be above 0');
    if (!(this.maxRate > 0 && this.maxRate < 1)) throw new RangeError('maxRate must be in (0, 1)');
    if (!(this.aheadNs > this.thresholdNs))
      throw new RangeError('aheadNs must be above thresholdNs');
  }

  /**
   * One look at the jitter buffer: the running time now and the last timestamp it sent. Returns
   * how far to move its timestamps and why, or null. A position that has not moved since the last
   * look is a microphone sending nothing, which says nothing about drift. Lags are measured afresh
   * after a move: the next window starts empty.
   */
  sample(runningTimeNs: bigint, positionNs: bigint): AudioDriftMove | null {
    if (positionNs === this.lastPosition) return null;
    this.lastPosition = positionNs;
    const lag = Number(runningTimeNs - positionNs);
    if (lag < -this.aheadNs && lag > -MAX_TIMED_LATE_NS) {
      // A look in the middle of the burst sees only part of it: the next one sees it all.
      if (this.ahead === null) {
        this.ahead = lag;
        return null;
      }
      const ns = Math.min(this.ahead, lag);
      this.ahead = null;
      this.window = [];
      this.reference = null;
      return { ns, cause: 'timed-late' };
    }
    this.ahead = null;
    this.window.push(lag);
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
    return { ns: drift, cause: 'drift' };
  }
}
