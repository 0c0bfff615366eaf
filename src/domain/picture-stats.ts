import type { VideoWindow } from './quality-rules.ts';

/**
 * The small grey pictures video quality is judged on, and their statistics. Scoring measures a
 * snippet's pictures either from its file (decoding keyframes) or as they were recorded: the
 * recorder shrinks a picture every CAPTURE_PICTURE_SEC before encoding and sends the statistics
 * with the snippet, which spares every moderation job the decode.
 */
export const PICTURE_SIZE = { width: 64, height: 36 } as const;
export const PICTURE_PIXELS = PICTURE_SIZE.width * PICTURE_SIZE.height;

/**
 * Half a second, the interval scoring falls back to when pictures a second apart flag a snippet:
 * taking them as recorded costs the same at either rate, so there is no coarse pass.
 */
export const CAPTURE_PICTURE_SEC = 0.5;

/** Most pictures a snippet's event may carry: a 15-s snippet has 30, a long one far fewer than this. */
export const MAX_EVENT_PICTURES = 600;

export interface PictureStats {
  lumaMean: number;
  lumaStdDev: number;
  /** Mean absolute change against `previous`; 0 without one. */
  lumaChange: number;
}

/** Mean, spread and change of one GRAY8 picture; `previous` is the one before it, same size. */
export function pictureStats(pixels: Uint8Array, previous: Uint8Array | null): PictureStats {
  const n = pixels.length;
  if (n === 0) throw new RangeError('a picture has at least one pixel');
  if (previous && previous.length !== n) throw new RangeError('pictures differ in size');
  let sum = 0;
  let sq = 0;
  let change = 0;
  for (let i = 0; i < n; i++) {
    const y = pixels[i]!;
    sum += y;
    sq += y * y;
    if (previous) change += Math.abs(y - previous[i]!);
  }
  const mean = sum / n;
  return {
    lumaMean: mean,
    lumaStdDev: Math.sqrt(Math.max(0, sq / n - mean * mean)),
    lumaChange: previous ? change / n : 0,
  };
}

/** Two decimals are far finer than any threshold, and keep an event's 30 windows small. */
export function roundWindow(w: VideoWindow): VideoWindow {
  const r = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
  return {
    atSec: r(w.atSec, 3),
    lumaMean: r(w.lumaMean, 2),
    lumaStdDev: r(w.lumaStdDev, 2),
    lumaChange: r(w.lumaChange, 2),
  };
}

/** What is wrong with an event's `pictures`, for a snippet of `durationSec`; empty when nothing. */
export function picturesProblems(value: unknown, durationSec: number): string[] {
  if (!Array.isArray(value)) return ['data.pictures must be an array'];
  if (value.length === 0) return ['data.pictures must not be empty'];
  if (value.length > MAX_EVENT_PICTURES)
    return [`data.pictures must hold at most ${MAX_EVENT_PICTURES} windows`];
  let last = -Infinity;
  for (const [i, w] of value.entries()) {
    const at = `data.pictures[${i}]`;
    if (typeof w !== 'object' || w === null) return [`${at} must be an object`];
    const { atSec, lumaMean, lumaStdDev, lumaChange } = w as Record<string, unknown>;
    if (typeof atSec !== 'number' || !(atSec >= 0 && atSec < durationSec + 0.001))
      return [`${at}.atSec must be a number from 0 to the snippet's duration`];
    if (atSec <= last) return [`${at}.atSec must be after the window before it`];
    last = atSec;
    for (const [k, v] of Object.entries({ lumaMean, lumaStdDev, lumaChange }))
      if (typeof v !== 'number' || !(v >= 0 && v <= 255)) return [`${at}.${k} must be 0 to 255`];
  }
  return [];
}
