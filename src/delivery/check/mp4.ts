import { open } from 'node:fs/promises';
import { allBoxes, type Box, childBoxes, findBox, readBoxHeader } from './boxes.ts';

export interface Mp4Track {
  handler: string;
  durationMs: number;
  samples: number;
  /** Samples a decoder can start from (keyframes); all of them when the track has no stss. */
  syncSamples: number;
}

export interface Mp4Inspection {
  /** Whole and ready: ftyp, moov, and an mdat that ends where the file ends. */
  complete: boolean;
  /** Why it is not complete, or why it cannot be repaired. */
  problem?: string;
  /** The header describes media that is all in the file: cutting at `repairedSize` gives a valid file. */
  repairable: boolean;
  repairedSize?: number;
  durationMs: number;
  tracks: Mp4Track[];
  fileSize: number;
}

const MAX_MOOV = 64 * 1024 * 1024;

function u32(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at);
}

/** Duration from a mdhd/mvhd body (version 0 or 1). */
function timedDuration(buf: Buffer, box: Box, kind: 'mvhd' | 'mdhd'): number {
  const v = buf[box.body]!;
  const timescale = v === 1 ? u32(buf, box.body + 20) : u32(buf, box.body + 12);
  const duration = v === 1 ? Number(buf.readBigUInt64BE(box.body + 24)) : u32(buf, box.body + 16);
  if (timescale === 0) throw new Error(`${kind} has timescale 0`);
  return (duration * 1000) / timescale;
}

/** Each sample's size, from stsz. */
export function sampleSizes(buf: Buffer, stsz: Box): number[] {
  const uniform = u32(buf, stsz.body + 4);
  const count = u32(buf, stsz.body + 8);
  return Array.from({ length: count }, (_, i) =>
    uniform !== 0 ? uniform : u32(buf, stsz.body + 12 + 4 * i),
  );
}

/** Each sample's byte offset in the file, from the chunk offsets and the samples per chunk. */
export function sampleOffsets(buf: Buffer, stbl: Box, sizes: readonly number[]): number[] {
  const stsc = findBox(buf, stbl.body, stbl.end, ['stsc']);
  const stco =
    findBox(buf, stbl.body, stbl.end, ['stco']) ?? findBox(buf, stbl.body, stbl.end, ['co64']);
  if (!stsc || !stco) throw new Error('sample table is missing stsc or stco');
  const chunkCount = u32(buf, stco.body + 4);
  const chunkOffset = (c: number) =>
    stco.type === 'co64'
      ? Number(buf.readBigUInt64BE(stco.body + 8 + 8 * c))
      : u32(buf, stco.body + 8 + 4 * c);
  const runs = u32(buf, stsc.body + 4);
  const offsets: number[] = [];
  for (let r = 0; r < runs; r++) {
    const first = u32(buf, stsc.body + 8 + 12 * r) - 1;
    const perChunk = u32(buf, stsc.body + 12 + 12 * r);
    const last = r + 1 < runs ? u32(buf, stsc.body + 8 + 12 * (r + 1)) - 1 : chunkCount;
    for (let c = first; c < last && offsets.length < sizes.length; c++) {
      let at = chunkOffset(c);
      for (let k = 0; k < perChunk && offsets.length < sizes.length; k++) {
        offsets.push(at);
        at += sizes[offsets.length - 1]!;
      }
    }
  }
  if (offsets.length !== sizes.length)
    throw new Error(`sample table maps ${offsets.length} of ${sizes.length} samples to chunks`);
  return offsets;
}

/** The end of the last byte of media that the sample tables point to. */
function mediaEnd(buf: Buffer, stbl: Box): { end: number; samples: number } {
  const stsz = findBox(buf, stbl.body, stbl.end, ['stsz']);
  if (!stsz) throw new Error('sample table is missing stsz, stsc or stco');
  const sizes = sampleSizes(buf, stsz);
  const offsets = sampleOffsets(buf, stbl, sizes);
  let end = 0;
  for (let i = 0; i < sizes.length; i++) end = Math.max(end, offsets[i]! + sizes[i]!);
  return { end, samples: sizes.length };
}

/**
 * Reads the top-level boxes and the movie header. A snippet the muxer finished has its index
 * (moov) and an mdat reaching the end of the file. One cut by a crash still has the index
 * rewritten every second (reserved moov), so it can be trimmed to the media the index describes.
 */
export async function inspectMp4(path: string): Promise<Mp4Inspection> {
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const top: Box[] = [];
    const head = Buffer.alloc(16);
    let at = 0;
    while (at + 8 <= fileSize) {
      const { bytesRead } = await fh.read(head, 0, 16, at);
      const box = readBoxHeader(head.subarray(0, bytesRead), 0, at, fileSize);
      if (!box) break;
      top.push(box);
      at = box.end;
    }
    const fail = (problem: string): Mp4Inspection => ({
      complete: false,
      repairable: false,
      problem,
      durationMs: 0,
      tracks: [],
      fileSize,
    });
    if (fileSize === 0) return fail('the file is empty');
    if (top[0]?.type !== 'ftyp') return fail('the file does not start with an ftyp box');
    const moov = top.find((b) => b.type === 'moov');
    const mdat = top.find((b) => b.type === 'mdat');
    if (!moov) return fail('the file has no movie header (moov)');
    if (!mdat) return fail('the file has no media data (mdat)');
    if (moov.end > fileSize) return fail('the movie header is cut off');
    if (moov.end - moov.start > MAX_MOOV) return fail('the movie header is implausibly large');
    const buf = Buffer.alloc(moov.end - moov.start);
    await fh.read(buf, 0, buf.length, moov.start);
    let durationMs: number;
    const tracks: Mp4Track[] = [];
    let end = 0;
    try {
      const mvhd = findBox(buf, 8, buf.length, ['mvhd']);
      if (!mvhd) return fail('the movie header has no mvhd');
      durationMs = timedDuration(buf, mvhd, 'mvhd');
      for (const trak of allBoxes(buf, 8, buf.length, 'trak')) {
        const mdia = findBox(buf, trak.body, trak.end, ['mdia']);
        const mdhd = mdia && findBox(buf, mdia.body, mdia.end, ['mdhd']);
        const hdlr = mdia && findBox(buf, mdia.body, mdia.end, ['hdlr']);
        const stbl = mdia && findBox(buf, mdia.body, mdia.end, ['minf', 'stbl']);
        if (!mdhd || !hdlr || !stbl) return fail('a track lacks its media header or sample table');
        const media = mediaEnd(buf, stbl);
        end = Math.max(end, media.end);
        const stss = findBox(buf, stbl.body, stbl.end, ['stss']);
        tracks.push({
          handler: buf.toString('latin1', hdlr.body + 8, hdlr.body + 12),
          durationMs: timedDuration(buf, mdhd, 'mdhd'),
          samples: media.samples,
          syncSamples: stss ? u32(buf, stss.body + 4) : media.samples,
        });
      }
    } catch (err) {
      return fail(`the movie header is malformed: ${(err as Error).message}`);
    }
    if (tracks.length === 0 || tracks.every((t) => t.samples === 0))
      return { ...fail('the movie header describes no samples'), tracks };
    if (end > fileSize)
      return { ...fail('media the header points to is missing from the file'), tracks };
    if (end < mdat.body) return { ...fail('the header points before the media data'), tracks };
    const complete =
      mdat.end === fileSize && end <= mdat.end && childBoxes(buf, 8, buf.length).length > 0;
    return {
      complete,
      ...(complete ? {} : { problem: 'the file was cut before the muxer finished it' }),
      repairable: true,
      repairedSize: end,
      durationMs,
      tracks,
      fileSize,
    };
  } finally {
    await fh.close();
  }
}
