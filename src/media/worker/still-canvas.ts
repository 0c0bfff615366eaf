/**
 * What one input puts on a composite's canvas: its picture, a placeholder because its camera is
 * off, or a placeholder because the picture it sends has not reached this recording yet (a
 * shared picture not attached or without frames: the host's own recording, which serves it, is
 * still starting).
 */
export type CanvasCell = 'picture' | 'camera-off' | 'awaited';

/**
 * A canvas that shows no host's picture while some host's picture is awaited stands still
 * through the recorder's doing: the host has its camera on and sends a picture the composite
 * cannot show yet. Scoring would take that still canvas for a frozen camera.
 */
export function stillForWantOfPicture(cells: readonly CanvasCell[]): boolean {
  return cells.includes('awaited') && !cells.includes('picture');
}

/** A stretch of wall-clock time, ms since the epoch. */
export interface Stretch {
  fromMs: number;
  toMs: number;
}

/**
 * Follows a canvas through its layout changes, the only moments what it shows changes, and
 * gives each stretch it stood still for want of a picture once that stretch ends.
 */
export class StillCanvas {
  private sinceMs: number | null = null;

  /** The canvas as laid out at `nowMs`: the stretch that ended there, or null. */
  update(nowMs: number, still: boolean): Stretch | null {
    if (still) {
      this.sinceMs ??= nowMs;
      return null;
    }
    return this.end(nowMs);
  }

  /** The recording ends at `nowMs`: the stretch still open, or null. */
  end(nowMs: number): Stretch | null {
    const from = this.sinceMs;
    this.sinceMs = null;
    return from !== null && nowMs > from ? { fromMs: from, toMs: nowMs } : null;
  }
}
