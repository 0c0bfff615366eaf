/** ISO BMFF (MP4) boxes: just enough structure to tell a whole file from a cut one. */
export interface Box {
  type: string;
  /** Offset of the box header in its buffer or file. */
  start: number;
  /** Offset of the first byte after the header. */
  body: number;
  /** Offset of the first byte after the box; may exceed the data when the box was cut. */
  end: number;
}

/** Reads the box header at `offset` of `buf` (relative to `base`, the buffer's file offset). */
export function readBoxHeader(
  buf: Buffer,
  offset: number,
  base = 0,
  fileSize = Infinity,
): Box | null {
  if (offset + 8 > buf.length) return null;
  let size = buf.readUInt32BE(offset);
  const type = buf.toString('latin1', offset + 4, offset + 8);
  let header = 8;
  if (size === 1) {
    if (offset + 16 > buf.length) return null;
    const big = buf.readBigUInt64BE(offset + 8);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    size = Number(big);
    header = 16;
  } else if (size === 0) {
    size = fileSize - (base + offset);
  }
  if (size < header) return null;
  return { type, start: base + offset, body: base + offset + header, end: base + offset + size };
}

/** Child boxes of a container whose body is `buf[from, to)`. */
export function childBoxes(buf: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    const box = readBoxHeader(buf, at);
    if (!box || box.end > to) break;
    out.push(box);
    at = box.end;
  }
  return out;
}

export function findBox(buf: Buffer, from: number, to: number, path: string[]): Box | null {
  let range = { from, to };
  let found: Box | null = null;
  for (const type of path) {
    found = childBoxes(buf, range.from, range.to).find((b) => b.type === type) ?? null;
    if (!found) return null;
    range = { from: found.body, to: found.end };
  }
  return found;
}

export function allBoxes(buf: Buffer, from: number, to: number, type: string): Box[] {
  return childBoxes(buf, from, to).filter((b) => b.type === type);
}
