/**
 * Frames the pipeline itself throws away: repeats of a timestamp dropped before the encoder, and
 * late frames an element drops for quality of service. Either leaves a recording a frame short,
 * so a recording says so when it happens instead of leaving only the file to tell.
 */
export class FrameLoss {
  private readonly late = new Map<string, number>();
  private readonly lateTold = new Map<string, number>();
  private repeatsTold = 0;

  /** A QoS message from `source`: it dropped one frame. */
  lateFrame(source: string): void {
    this.late.set(source, (this.late.get(source) ?? 0) + 1);
  }

  /**
   * One line for each kind of loss that grew since the last call. The repeats come from
   * videorate's drop count, which is read only while media flows: EOS adds one to it without
   * dropping a frame.
   */
  news(repeatsDropped?: number): string[] {
    const lines: string[] = [];
    if (repeatsDropped !== undefined && repeatsDropped > this.repeatsTold) {
      const n = repeatsDropped - this.repeatsTold;
      this.repeatsTold = repeatsDropped;
      lines.push(
        `${frames(n)} repeating an earlier timestamp dropped before the encoder (${repeatsDropped} in all)`,
      );
    }
    for (const [source, count] of this.late) {
      const told = this.lateTold.get(source) ?? 0;
      if (count === told) continue;
      this.lateTold.set(source, count);
      lines.push(`${source} dropped ${frames(count - told)} as late (${count} in all)`);
    }
    return lines;
  }
}

function frames(n: number): string {
  return n === 1 ? '1 video frame' : `${n} video frames`;
}
