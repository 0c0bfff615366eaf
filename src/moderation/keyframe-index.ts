import { allBoxes, childBoxes, findBox, type Box } from '../delivery/check/boxes.ts';
import { sampleOffsets, sampleSizes } from '../delivery/check/mp4.ts';

/**
 * The keyframes of an MP4's H.264 track, read from its index, so that scoring can decode only
 * the pictures it looks at: one per window, chosen before decoding rather than thinned after.
 */

export interface Keyframe {
  offset: number;
  size: number;
  /** From the track's first sample. */
  atSec: number;
}

export interface KeyframeIndex {
  /** Bytes of each NAL unit's length prefix in the samples (avcC). */
  lengthSize: number;
  /** SPS and PPS from avcC, for a stream that can be decoded from its first byte. */
  parameterSets: Buffer[];
  keyframes: Keyframe[];
  durationSec: number;
}

export class KeyframeIndexError extends Error {
  override name = 'KeyframeIndexError';
}

const u32 = (b: Buffer, at: number) => b.readUInt32BE(at);
const START_CODE = Buffer.from([0, 0, 0, 1]);
/** avc1's fields before its child boxes (ISO 14496-12 VisualSampleEntry). */
const VISUAL_SAMPLE_ENTRY_BYTES = 78;

function need(box: Box | null, what: string): Box {
  if (!box) throw new KeyframeIndexError(`the video track has no ${what}`);
  return box;
}

function parseAvcC(file: Buffer, avcC: Box): Pick<KeyframeIndex, 'lengthSize' | 'parameterSets'> {
  let at = avcC.body + 4;
  const lengthSize = (file[at++]! & 3) + 1;
  const parameterSets: Buffer[] = [];
  for (const mask of [31, 255]) {
    const count = file[at++]! & mask;
    for (let i = 0; i < count; i++) {
      const len = file.readUInt16BE(at);
      parameterSets.push(file.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
  }
  if (at > avcC.end) throw new KeyframeIndexError('the avcC box is cut off');
  return { lengthSize, parameterSets };
}

/** Reads the keyframe index of the first H.264 video track of a whole MP4 file in `file`. */
export function keyframeIndex(file: Buffer): KeyframeIndex {
  const moov = childBoxes(file, 0, file.length).find((b) => b.type === 'moov');
  if (!moov) throw new KeyframeIndexError('the file has no movie header (moov)');
  for (const trak of allBoxes(file, moov.body, moov.end, 'trak')) {
    const mdia = findBox(file, trak.body, trak.end, ['mdia']);
    const hdlr = mdia && findBox(file, mdia.body, mdia.end, ['hdlr']);
    if (!mdia || !hdlr || file.toString('latin1', hdlr.body + 8, hdlr.body + 12) !== 'vide')
      continue;
    const mdhd = need(findBox(file, mdia.body, mdia.end, ['mdhd']), 'mdhd');
    const timescale = file[mdhd.body] === 1 ? u32(file, mdhd.body + 20) : u32(file, mdhd.body + 12);
    if (timescale === 0) throw new KeyframeIndexError('the video track has timescale 0');
    const stbl = need(findBox(file, mdia.body, mdia.end, ['minf', 'stbl']), 'sample table');
    const stsd = need(findBox(file, stbl.body, stbl.end, ['stsd']), 'stsd');
    const avc1 = childBoxes(file, stsd.body + 8, stsd.end).find(
      (b) => b.type === 'avc1' || b.type === 'avc3',
    );
    if (!avc1) throw new KeyframeIndexError('the video track is not H.264');
    const avcC = need(
      childBoxes(file, avc1.body + VISUAL_SAMPLE_ENTRY_BYTES, avc1.end).find(
        (b) => b.type === 'avcC',
      ) ?? null,
      'avcC',
    );

    const sizes = sampleSizes(file, need(findBox(file, stbl.body, stbl.end, ['stsz']), 'stsz'));
    const count = sizes.length;
    const offsets = sampleOffsets(file, stbl, sizes);

    // Decode times; without B-frames (tapedeck encodes none) they are the presentation times.
    const stts = need(findBox(file, stbl.body, stbl.end, ['stts']), 'stts');
    const times: number[] = [];
    let t = 0;
    for (let e = 0, n = u32(file, stts.body + 4); e < n; e++) {
      const runLength = u32(file, stts.body + 8 + 8 * e);
      const delta = u32(file, stts.body + 12 + 8 * e);
      for (let k = 0; k < runLength && times.length < count; k++, t += delta) times.push(t);
    }
    if (times.length !== count)
      throw new KeyframeIndexError(`stts times ${times.length} of ${count} samples`);

    const stss = findBox(file, stbl.body, stbl.end, ['stss']);
    const sync = stss
      ? Array.from(
          { length: u32(file, stss.body + 4) },
          (_, i) => u32(file, stss.body + 8 + 4 * i) - 1,
        )
      : times.map((_, i) => i);
    const keyframes = sync
      .filter((i) => i < count)
      .map((i) => ({ offset: offsets[i]!, size: sizes[i]!, atSec: times[i]! / timescale }));
    for (const k of keyframes)
      if (k.offset + k.size > file.length)
        throw new KeyframeIndexError('a keyframe lies beyond the end of the file');
    return { ...parseAvcC(file, avcC), keyframes, durationSec: t / timescale };
  }
  throw new KeyframeIndexError('the file has no video track');
}

/**
 * For each window (0, w, 2w, … before the end) the keyframe nearest its start, the earlier of two
 * as near: what a decoder followed by a rate converter to one picture per window would show,
 * without decoding the rest.
 */
export function keyframePerWindow(
  keyframes: readonly Pick<Keyframe, 'atSec'>[],
  durationSec: number,
  windowSec: number,
): number[] {
  const picks: number[] = [];
  if (keyframes.length === 0) return picks;
  let k = 0;
  for (let w = 0; w * windowSec < durationSec - 1e-9; w++) {
    const at = w * windowSec;
    while (
      k + 1 < keyframes.length &&
      Math.abs(keyframes[k + 1]!.atSec - at) < Math.abs(keyframes[k]!.atSec - at) - 1e-9
    )
      k++;
    picks.push(k);
  }
  return picks;
}

/** The parameter sets and the given keyframes as one H.264 Annex B stream. */
export function keyframeStream(file: Buffer, index: KeyframeIndex, keyframes: number[]): Buffer {
  return Buffer.concat([
    ...index.parameterSets.flatMap((p) => [START_CODE, p]),
    ...keyframes.map((i) => {
      const k = index.keyframes[i]!;
      return annexB(file.subarray(k.offset, k.offset + k.size), index.lengthSize);
    }),
  ]);
}

/** One keyframe as H.264 Annex B: each length-prefixed NAL unit behind a start code. */
export function annexB(sample: Buffer, lengthSize: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at + lengthSize <= sample.length;) {
    const len = sample.readUIntBE(at, lengthSize);
    at += lengthSize;
    if (len === 0 || at + len > sample.length)
      throw new KeyframeIndexError('a keyframe has a NAL unit that runs past its end');
    parts.push(START_CODE, sample.subarray(at, at + len));
    at += len;
  }
  return Buffer.concat(parts);
}

/** A track's or the movie's length from its header (mdhd or mvhd, which agree on the layout). */
function headerLength(file: Buffer, box: Box): { duration: number; timescale: number } {
  return file[box.body] === 1
    ? { timescale: u32(file, box.body + 20), duration: Number(file.readBigUInt64BE(box.body + 24)) }
    : { timescale: u32(file, box.body + 12), duration: u32(file, box.body + 16) };
}

/**
 * Whether GStreamer reads the first sound track of a whole MP4 file: false without one, for a
 * track with its format but not one sample, and for one qtdemux leaves out. qtdemux takes any
 * track shorter than a fifth of the movie for a preview image and skips it. A recording stopped
 * just after a cut leaves such last snippets: no sound at all, or 0.04 s of it under 0.27 s of
 * picture, because the sound, further behind in a live pipeline, had not reached the cut.
 * A decode that waits for that sound never ends.
 */
export function soundReadable(file: Buffer): boolean {
  const moov = childBoxes(file, 0, file.length).find((b) => b.type === 'moov');
  const mvhd = moov && findBox(file, moov.body, moov.end, ['mvhd']);
  if (!moov || !mvhd) return false;
  for (const trak of allBoxes(file, moov.body, moov.end, 'trak')) {
    const mdia = findBox(file, trak.body, trak.end, ['mdia']);
    const hdlr = mdia && findBox(file, mdia.body, mdia.end, ['hdlr']);
    if (!mdia || !hdlr || file.toString('latin1', hdlr.body + 8, hdlr.body + 12) !== 'soun')
      continue;
    const stsz = findBox(file, mdia.body, mdia.end, ['minf', 'stbl', 'stsz']);
    const mdhd = findBox(file, mdia.body, mdia.end, ['mdhd']);
    if (!stsz || stsz.end - stsz.body < 12 || u32(file, stsz.body + 8) === 0 || !mdhd) return false;
    // qtdemux's test, in integers: track / movie < 1/5.
    const movie = headerLength(file, mvhd);
    const track = headerLength(file, mdhd);
    const movieByTrack = track.timescale * movie.duration;
    return movieByTrack === 0 || movie.timescale * track.duration * 5 >= movieByTrack;
  }
  return false;
}
