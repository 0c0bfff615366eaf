import { MediaWorker } from './media-worker.ts';

/**
 * Media worker processes started ahead of need: a recording that starts (a camera switch, a
 * takeover after a crash) gets one whose Node, node-gtk and GStreamer are already loaded, which
 * saves most of the two seconds a start costs. A spare that dies while idle is replaced.
 */
export class MediaWorkerPool {
  private readonly spares = new Set<MediaWorker>();
  private closed = false;
  private refill: NodeJS.Timeout | undefined;

  /**
   * refillDelayMs: spares taken are replaced only this long after the last take. Recordings are
   * taken in bursts (a takeover starts all of a dead worker's recordings at once), and loading
   * new processes right then took the CPU those recordings needed to start.
   */
  constructor(
    private readonly size = 1,
    private readonly refillDelayMs = 3_000,
  ) {
    this.fill();
  }

  /** A worker for one recording; the pool starts another in its place a little later. */
  take(): MediaWorker {
    const spare = [...this.spares].find(
      (w) => w.child.exitCode === null && w.child.signalCode === null,
    );
    if (spare) this.spares.delete(spare);
    clearTimeout(this.refill);
    this.refill = setTimeout(() => this.fill(), this.refillDelayMs);
    this.refill.unref();
    return spare ?? new MediaWorker();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refill);
    const spares = [...this.spares];
    this.spares.clear();
    await Promise.allSettled(spares.map((w) => w.close(2_000)));
  }

  private fill(): void {
    while (!this.closed && this.spares.size < this.size) {
      const w = new MediaWorker();
      this.spares.add(w);
      w.once('died', () => {
        this.spares.delete(w);
        setTimeout(() => this.fill(), 1_000).unref();
      });
    }
  }
}
