import { open } from 'node:fs/promises';

export interface Mp3Inspection {
  /** Frames from the first to the last byte (after any ID3 tags). */
  complete: boolean;
  problem?: string;
  /** Whole frames exist and cutting at `repairedSize` drops only a torn last frame. */
  repairable: boolean;
  repairedSize?: number;
  frames: number;
  sampleRate: number;
  durationMs: number;
  fileSize: number;
}

const BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

interface FrameHeader {
  length: number;
  samples: number;
  sampleRate: number;
}

/** MPEG audio layer III frame header, or null when the bytes are not one. */
export function parseFrameHeader(b: Buffer, at: number): FrameHeader | null {
  if (at + 4 > b.length) return null;
  if (b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (b[at + 1]! >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  const layer = (b[at + 1]! >> 1) & 3; // 1 = layer III
  const bitrateIndex = b[at + 2]! >> 4;
  const rateIndex = (b[at + 2]! >> 2) & 3;
  const padding = (b[at + 2]! >> 1) & 1;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3)
    return null;
  const sampleRate = RATES[version]![rateIndex]!;
  const kbps = (version === 3 ? BITRATES_V1 : BITRATES_V2)[bitrateIndex]!;
  const samples = version === 3 ? 1152 : 576;
  const length = Math.floor(((samples / 8) * kbps * 1000) / sampleRate) + padding;
  return { length, samples, sampleRate };
}

function id3v2Size(b: Buffer): number {
  if (b.length < 10 || b.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size =
    ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  const footer = b[5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** Walks the frames; a snippet is only as good as its frames, one after another to the end. */
export async function inspectMp3(path: string): Promise<Mp3Inspection> {
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    // Snippets are about 100 kB; reading them whole keeps the walk simple.
    const buf = Buffer.alloc(fileSize);
    await fh.read(buf, 0, fileSize, 0);
    let at = id3v2Size(buf);
    let frames = 0;
    let samples = 0;
    let sampleRate = 0;
    let lastWhole = at;
    let problem: string | undefined;
    while (at < fileSize) {
      const h = parseFrameHeader(buf, at);
      if (!h) {
        if (fileSize - at === 128 && buf.toString('latin1', at, at + 3) === 'TAG') {
          lastWhole = fileSize;
          break;
        }
        problem = `no MPEG audio frame at byte ${at}`;
        break;
      }
      if (sampleRate !== 0 && h.sampleRate !== sampleRate) {
        problem = `the sample rate changes at byte ${at}`;
        break;
      }
      if (at + h.length > fileSize) {
        problem = 'the last frame is cut off';
        break;
      }
      sampleRate = h.sampleRate;
      frames++;
      samples += h.samples;
      at += h.length;
      lastWhole = at;
    }
    const durationMs = sampleRate ? (samples * 1000) / sampleRate : 0;
    if (frames === 0)
      return {
        complete: false,
        repairable: false,
        problem: problem ?? 'the file holds no audio frames',
        frames,
        sampleRate,
        durationMs,
        fileSize,
      };
    const complete = problem === undefined;
    return {
      complete,
      ...(problem ? { problem } : {}),
      repairable: true,
      repairedSize: lastWhole,
      frames,
      sampleRate,
      durationMs,
      fileSize,
    };
  } finally {
    await fh.close();
  }
}
