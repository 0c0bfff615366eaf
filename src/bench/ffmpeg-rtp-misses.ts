/**
 * Counts the RTP packets an ffmpeg recorder reading RTP did not get, from its warnings. On
 * loopback nothing is lost on the wire, so a gap means ffmpeg fell behind and its socket
 * overflowed: the recorder did not keep real time. libavformat's RTP demuxer says
 * "RTP: missed N packets" when it gives up waiting for a gap, and "RTP: dropping old packet
 * received too late" for each packet that came after its place was passed.
 */
const MISSED = /RTP: missed (\d+) packets/;
const TOO_LATE = /RTP: dropping old packet received too late/;

export class RtpMissCounter {
  private partial = '';
  private count = 0;

  /** Feeds a chunk of stderr; lines may be split across chunks. */
  push(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n|\r/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.count += missesIn(line);
  }

  /** Packets missed so far, the unfinished last line included. */
  get missed(): number {
    return this.count + missesIn(this.partial);
  }
}

function missesIn(line: string): number {
  const m = MISSED.exec(line);
  if (m) return Number(m[1]);
  return TOO_LATE.test(line) ? 1 : 0;
}
