/**
 * How much later than its RTP time says a stream's packets reach the ingest, against the packet
 * that came soonest. RTP time counts the sender's samples, and each recorder times a host's sound
 * by it from the first packet on, so sound that comes this much later reaches the recorder's mixer
 * as late, and the mixer drops it once that passes its wait. Video is timed by arrival instead, so
 * the same delay costs it nothing to see: this is the only place it shows. A publisher or an ingest
 * that falls behind makes it grow; jitter on loopback keeps it within milliseconds.
 *
 * A new SSRC (the publisher restarted its stream) starts afresh; the worst so far is kept.
 */
export class ArrivalLag {
  private ssrc: number | undefined;
  private baseTs = 0;
  private baseAtMs = 0;
  /** Highest timestamp seen, extended past the 32-bit wrap-around. */
  private highestTs = 0;
  private soonest = 0;
  private current = 0;
  private worst = 0;

  constructor(private readonly clockRate: number) {
    if (!(clockRate > 0)) throw new RangeError('clockRate must be above 0');
  }

  add(ssrc: number, timestamp: number, atMs: number): void {
    if (ssrc !== this.ssrc) {
      this.ssrc = ssrc;
      this.baseTs = this.highestTs = timestamp >>> 0;
      this.baseAtMs = atMs;
      this.soonest = 0;
      this.current = 0;
      return;
    }
    // The signed 32-bit step from the highest timestamp: a reordered packet steps back.
    const step = ((timestamp >>> 0) - (this.highestTs % 2 ** 32)) | 0;
    const ts = this.highestTs + step;
    if (step > 0) this.highestTs = ts;
    const lag = atMs - (this.baseAtMs + ((ts - this.baseTs) * 1000) / this.clockRate);
    if (lag < this.soonest) this.soonest = lag;
    this.current = lag - this.soonest;
    if (this.current > this.worst) this.worst = this.current;
  }

  /** How late the last packet came, in ms, against the soonest. */
  get currentMs(): number {
    return this.current;
  }

  /** The latest any packet came, in ms, against the soonest before it. */
  get worstMs(): number {
    return this.worst;
  }
}
