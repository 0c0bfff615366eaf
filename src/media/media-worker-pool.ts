import { MediaWorker } from './media-worker.ts';

/** Between one refilled spare having loaded and the next one starting to. */
const REFILL_GAP_MS = 500;

export interface MediaWorkerPoolOptions {
  /**
   * Spares taken are replaced only this long after the last take. Recordings are taken in bursts
   * (hosts joining together, a takeover starting all of a dead worker's recordings at once), and
   * loading new processes right then took the CPU those recordings needed to start.
   */
  refillDelayMs?: number;
  /**
   * A spare warms up this long after it loaded, so that the warm-ups of a pool just filled (a
   * node starting) do not take the CPU from the first recordings.
   */
  warmUpDelayMs?: number;
}

/**
 * Media worker processes started ahead of need: a recording that starts (a host joining, a camera
 * switch, a takeover after a crash) gets one whose Node, node-gtk and GStreamer are loaded and,
 * once it has been idle a moment, warmed up (plugins, fonts), which saves most of the time a start
 * costs. A spare that dies while idle is replaced.
 */
export class MediaWorkerPool {
  private readonly spares = new Set<MediaWorker>();
  /** Each spare's warm-up, done or failed; a spare taken before it began has none. */
  private readonly warming = new Map<MediaWorker, Promise<unknown>>();
  private readonly warmed = new WeakSet<MediaWorker>();
  private closed = false;
  private refill: NodeJS.Timeout | undefined;
  /** A refill's timer is set and has not fired. */
  private refillDue = false;
  /** Spares are being replaced, one after another. */
  private refilling = false;
  /** Resolves once the refill after the latest take has run. */
  private refilled: Promise<void> = Promise.resolve();
  private markRefilled: (() => void) | undefined;
  private readonly refillDelayMs: number;
  private readonly warmUpDelayMs: number;

  constructor(
    private readonly size = 1,
    o: MediaWorkerPoolOptions = {},
  ) {
    this.refillDelayMs = o.refillDelayMs ?? 3_000;
    this.warmUpDelayMs = o.warmUpDelayMs ?? 2_000;
    this.fill();
  }

  /** A worker for one recording (a warmed-up spare first); the pool replaces it a little later. */
  take(): MediaWorker {
    const alive = [...this.spares].filter(
      (w) => w.child.exitCode === null && w.child.signalCode === null,
    );
    const spare = alive.find((w) => this.warmed.has(w)) ?? alive[0];
    if (spare) this.spares.delete(spare);
    clearTimeout(this.refill);
    if (!this.markRefilled) this.refilled = new Promise((r) => (this.markRefilled = r));
    this.refillDue = true;
    this.refill = setTimeout(() => {
      this.refillDue = false;
      void this.refillOneByOne();
    }, this.refillDelayMs);
    this.refill.unref();
    return spare ?? new MediaWorker();
  }

  /** Resolves once every spare has loaded and warmed up; one that fails is left to the refill. */
  async loaded(): Promise<void> {
    await Promise.allSettled([...this.spares].map((w) => this.warmUp(w)));
  }

  /** Resolves once the spares taken so far are replaced and warmed up (or the pool closed). */
  async settled(): Promise<void> {
    await this.refilled;
    await this.loaded();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refill);
    this.endRefill();
    const spares = [...this.spares];
    this.spares.clear();
    await Promise.allSettled(spares.map((w) => w.close(2_000)));
  }

  /** Starts the spare's warm-up now if it has not begun; a spare already taken is left alone. */
  private warmUp(w: MediaWorker): Promise<unknown> {
    let warming = this.warming.get(w);
    if (!warming) {
      // A spare that cannot warm up still records: it only starts as slowly as a new one.
      warming = this.spares.has(w)
        ? w.warmUp().then(
            () => this.warmed.add(w),
            () => undefined,
          )
        : Promise.resolve();
      this.warming.set(w, warming);
    }
    return warming;
  }

  private endRefill(): void {
    this.markRefilled?.();
    this.markRefilled = undefined;
  }

  /**
   * Replaces the spares taken, one at a time: each loads (Node, node-gtk, GStreamer) before the
   * next one starts. Loading them all at once right after a burst of takes took the CPU from the
   * recordings those takes had just started, which a four-spare pool on each of a node's two
   * workers did 3 s after twelve hosts joined.
   */
  private async refillOneByOne(): Promise<void> {
    if (this.refilling) return;
    this.refilling = true;
    try {
      while (!this.closed && this.spares.size < this.size) {
        const w = this.spawnSpare();
        await w.ready.catch(() => undefined);
        await new Promise((r) => setTimeout(r, REFILL_GAP_MS).unref());
      }
    } finally {
      this.refilling = false;
      if (!this.refillDue) this.endRefill();
    }
  }

  private fill(): void {
    while (!this.closed && this.spares.size < this.size) this.spawnSpare();
  }

  private spawnSpare(): MediaWorker {
    const w = new MediaWorker();
    this.spares.add(w);
    w.ready.then(
      () => setTimeout(() => void this.warmUp(w), this.warmUpDelayMs).unref(),
      () => undefined,
    );
    w.once('closed', () => this.warming.delete(w));
    w.once('died', () => {
      this.spares.delete(w);
      setTimeout(() => this.fill(), 1_000).unref();
    });
    return w;
  }
}

/**
 * Media worker processes kept loaded and idle: one per host of a four-host show joining at once.
 * After the other worker of a node dies this one takes over its recordings all at once (about
 * three of a show's five); a recording without a spare waits for a process to load GStreamer,
 * which pushed a takeover past 5 s. Each spare holds about 110 MiB resident once warmed up (28 MiB
 * of it its own). TAPEDECK_SPARE_MEDIA_WORKERS sets the number (0 to 16).
 */
export function spareMediaWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TAPEDECK_SPARE_MEDIA_WORKERS;
  if (raw === undefined || raw === '') return 4;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 16)
    throw new Error(
      `TAPEDECK_SPARE_MEDIA_WORKERS must be a whole number from 0 to 16, not "${raw}"`,
    );
  return n;
}
