import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PICTURE_PIXELS, pictureStats, roundWindow } from '../../domain/picture-stats.ts';
import type { VideoWindow } from '../../domain/quality-rules.ts';
import type { GstAppSink, GstModule } from './gst.ts';

const DIR_PREFIX = 'tapedeck-pictures-';

/** A folder for one worker's pictures, named for its pid so a later worker can tell it is left over. */
export function makePicturesDir(): string {
  sweepLeftovers();
  return mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
}

/** Folders of workers that were killed before they could remove their own. */
function sweepLeftovers(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^tapedeck-pictures-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pictures a video recording takes for scoring (see picturesOutput): their running times from
 * the appsink, their pixels from the files beside it. A snippet's windows are measured when it
 * closes; by then every picture before its end has passed the tee in front of the encoder.
 */
export class CapturedPictures {
  private readonly taken: { index: number; runningNs: bigint }[] = [];
  private next = 0;
  /** The last picture measured, which the next one's change is measured against. */
  private previous: Uint8Array | null = null;

  constructor(
    private readonly Gst: GstModule,
    private readonly sink: GstAppSink,
    private readonly dir: string,
  ) {}

  /** Takes the running times of the pictures waiting in the appsink; each call costs microseconds. */
  collect(): void {
    for (;;) {
      const sample = this.sink.tryPullSample(0);
      if (!sample) return;
      const pts = sample.getBuffer()?.pts;
      const segment = sample.getSegment();
      const runningNs =
        typeof pts === 'bigint' && segment ? segment.toRunningTime(this.Gst.Format.TIME, pts) : -1n;
      // -1 (no time) is kept: it holds a file's number, and falls in no snippet.
      this.taken.push({ index: this.next++, runningNs: BigInt(runningNs) });
    }
  }

  /**
   * The windows of the pictures in [startNs, endNs) of running time, seconds from startNs, and
   * forgets every picture before endNs. Undefined when there are none or one cannot be read: the
   * snippet is then measured from its file.
   */
  windows(startNs: bigint, endNs: bigint): VideoWindow[] | undefined {
    this.collect();
    const within = this.taken.filter((p) => p.runningNs >= startNs && p.runningNs < endNs);
    const rest = this.taken.filter((p) => p.runningNs >= endNs);
    this.taken.length = 0;
    this.taken.push(...rest);
    const windows: VideoWindow[] = [];
    for (const p of within) {
      const pixels = this.read(p.index);
      if (!pixels) {
        this.previous = null;
        return undefined;
      }
      const atSec = Number(p.runningNs - startNs) / 1e9;
      windows.push(roundWindow({ atSec, ...pictureStats(pixels, this.previous) }));
      this.previous = pixels;
    }
    return windows.length > 0 ? windows : undefined;
  }

  private read(index: number): Uint8Array | null {
    try {
      const bytes = readFileSync(join(this.dir, `${String(index).padStart(6, '0')}.gray`));
      return bytes.length === PICTURE_PIXELS ? bytes : null;
    } catch {
      return null;
    }
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
