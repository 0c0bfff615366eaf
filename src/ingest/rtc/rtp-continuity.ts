/**
 * Makes the RTP of one host's successive sessions a single stream for its recorders: the first
 * session's SSRC throughout, and sequence numbers and timestamps that go on where the previous
 * session stopped. A recorder that sends RTCP demultiplexes by SSRC and payload type so that its
 * keyframe requests name the stream; a new SSRC on its port would reach a pad nothing is linked
 * to and stop its input. To the recorder a host that came back looks like one whose camera paused.
 */
export class RtpContinuity {
  private inSsrc: number | undefined;
  private outSsrc = 0;
  private seqOffset = 0;
  private tsOffset = 0;
  /** Highest sequence number and timestamp sent, and when (ms). */
  private lastSeq = 0;
  private lastTs = 0;
  private lastAt = 0;

  constructor(private readonly clockRate: number) {}

  /** Rewrites one serialized RTP packet in place; anything that is not RTP is left alone. */
  rewrite(datagram: Buffer, now = Date.now()): void {
    if (datagram.length < 12 || datagram[0]! >> 6 !== 2) return;
    const ssrc = datagram.readUInt32BE(8);
    const seq = datagram.readUInt16BE(2);
    const ts = datagram.readUInt32BE(4);
    if (this.inSsrc === undefined) {
      this.outSsrc = ssrc;
      this.lastSeq = (seq - 1) & 0xffff;
      this.lastTs = ts;
    } else if (ssrc !== this.inSsrc) {
      // One sequence number is skipped: the recorder sees a loss where the old stream broke
      // off, so its depayloader drops the unfinished frame and asks for a keyframe.
      this.seqOffset = (this.lastSeq + 2 - seq) & 0xffff;
      const elapsed = Math.max(1, Math.round(((now - this.lastAt) * this.clockRate) / 1000));
      this.tsOffset = (this.lastTs + elapsed - ts) >>> 0;
    }
    this.inSsrc = ssrc;
    const outSeq = (seq + this.seqOffset) & 0xffff;
    const outTs = (ts + this.tsOffset) >>> 0;
    datagram.writeUInt16BE(outSeq, 2);
    datagram.writeUInt32BE(outTs, 4);
    datagram.writeUInt32BE(this.outSsrc, 8);
    // A reordered packet must not pull the next session's numbers back behind ones already sent.
    if (((outSeq - this.lastSeq) & 0xffff) < 0x8000) this.lastSeq = outSeq;
    if ((outTs - this.lastTs) >>> 0 < 0x80000000) this.lastTs = outTs;
    this.lastAt = now;
  }
}
