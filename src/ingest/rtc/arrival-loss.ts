/**
 * Packets of one RTP stream that never reached us, counted from sequence numbers as RFC 3550
 * (appendix A.3) does: the extended highest number seen, minus the first, plus one, is what was
 * sent; what arrived is counted. On loopback nothing is lost on the wire, so a loss here means the
 * ingest read its socket too slowly and the kernel dropped what overflowed.
 *
 * A new SSRC (the publisher restarted its stream) starts a new count; the old one is kept.
 */
export class ArrivalLoss {
  private ssrc: number | undefined;
  private first = 0;
  /** Highest sequence number seen, extended with the wrap-arounds (cycles of 65536). */
  private highest = 0;
  private arrivedNow = 0;
  private expectedBefore = 0;
  private arrivedBefore = 0;

  add(ssrc: number, seq: number): void {
    if (ssrc !== this.ssrc) {
      if (this.ssrc !== undefined) {
        this.expectedBefore += this.expectedNow();
        this.arrivedBefore += this.arrivedNow;
      }
      this.ssrc = ssrc;
      this.first = seq;
      this.highest = seq;
      this.arrivedNow = 1;
      return;
    }
    this.arrivedNow += 1;
    const ahead = (seq - this.highest) & 0xffff;
    // Half the number space ahead or more is a late (reordered) or repeated packet, not a jump.
    if (ahead !== 0 && ahead < 0x8000) this.highest += ahead;
  }

  private expectedNow(): number {
    return this.ssrc === undefined ? 0 : this.highest - this.first + 1;
  }

  get expected(): number {
    return this.expectedBefore + this.expectedNow();
  }

  get arrived(): number {
    return this.arrivedBefore + this.arrivedNow;
  }

  /** Never negative: a duplicated packet must not hide a lost one elsewhere, nor count as minus one. */
  get lost(): number {
    return Math.max(0, this.expected - this.arrived);
  }
}
