import type { Size } from './profile.ts';

/** A rectangle on the canvas, in pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Grid {
  columns: number;
  rows: number;
  /** The area each input may use; an input of another aspect ratio is fitted inside it. */
  cells: Rect[];
  /** The picture of a tileAspect input inside its cell. */
  tiles: Rect[];
}

/** Sizes and positions stay even: 4:2:0 chroma covers pixels in pairs. */
const even = (v: number): number => Math.floor(v / 2) * 2;
const evenSize = (v: number): number => Math.max(2, even(v));

/**
 * Places `count` tiles of the given aspect ratio on the canvas in the grid that gives each tile the
 * largest area, each tile centred in its cell. The last row is centred too when it is not full, so a
 * grid of 3 on a landscape canvas looks balanced rather than left-heavy.
 */
export function gridLayout(canvas: Size, count: number, tileAspect = 16 / 9): Grid {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`tile count ${count} is invalid`);
  if (count === 0) return { columns: 0, rows: 0, cells: [], tiles: [] };
  let best: { columns: number; rows: number; w: number; h: number } | undefined;
  for (let columns = 1; columns <= count; columns++) {
    const rows = Math.ceil(count / columns);
    const cellW = canvas.width / columns;
    const cellH = canvas.height / rows;
    const [w, h] =
      cellW / cellH > tileAspect ? [cellH * tileAspect, cellH] : [cellW, cellW / tileAspect];
    // Prefer fewer empty cells when areas tie, so 4 tiles become 2x2 rather than 3+1.
    if (!best || w * h > best.w * best.h + 1e-6) best = { columns, rows, w, h };
  }
  const { columns, rows, w, h } = best!;
  const cellW = canvas.width / columns;
  const cellH = canvas.height / rows;
  const tileW = evenSize(w);
  const tileH = evenSize(h);
  const tiles: Rect[] = [];
  const cells: Rect[] = [];
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / columns);
    const inRow = row === rows - 1 ? count - row * columns : columns;
    const col = i % columns;
    const rowOffset = ((columns - inRow) * cellW) / 2;
    const cellX = even(rowOffset + col * cellW);
    const cellY = even(row * cellH);
    cells.push({
      x: cellX,
      y: cellY,
      width: Math.min(evenSize(cellW), canvas.width - cellX),
      height: Math.min(evenSize(cellH), canvas.height - cellY),
    });
    tiles.push({
      x: even(rowOffset + col * cellW + (cellW - tileW) / 2),
      y: even(row * cellH + (cellH - tileH) / 2),
      width: tileW,
      height: tileH,
    });
  }
  return { columns, rows, cells, tiles };
}

/**
 * The largest a camera's picture is ever shown on a composite of this canvas: the tile of a lone
 * host, and never above the camera's own size, so a picture scaled down to it loses nothing any
 * layout of the canvas shows.
 */
export function largestTile(canvas: Size, camera: Size): Size {
  const tile = gridLayout(canvas, 1, camera.width / camera.height).tiles[0]!;
  return tile.width > camera.width
    ? { width: camera.width, height: camera.height }
    : { width: tile.width, height: tile.height };
}
