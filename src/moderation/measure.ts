import { readFile, rm, writeFile } from 'node:fs/promises';
import { inspectMp3 } from '../delivery/check/mp3.ts';
import { pictureStats, PICTURE_SIZE } from '../domain/picture-stats.ts';
import type { AudioWindow, VideoWindow } from '../domain/quality-rules.ts';
import { quote } from '../media/pipeline/quote.ts';
import {
  keyframeIndex,
  keyframePerWindow,
  keyframeStream,
  soundReadable,
} from './keyframe-index.ts';
import { PipelineFailure, PipelineRefused, sharedMeasuringProcess } from './measuring-process.ts';

/**
 * Measures a snippet for scoring: GStreamer decodes it and writes small raw pictures and the
 * audio samples beside it; the statistics are a few lines of arithmetic here. The decoding runs
 * in a child process, so a file that breaks the decoder costs that process only.
 */

export interface SnippetMeasurements {
  durationSec: number;
  audio: AudioWindow[];
  /** Null for an audio-only snippet. */
  video: VideoWindow[] | null;
  /** CPU seconds the decoding took in the measuring process. */
  decodeCpuSec: number;
  /** Which way measureSnippet decoded it; absent from measurements made any other way. */
  decodedBy?: 'named' | 'decodebin';
}

export class MeasureError extends Error {
  override name = 'MeasureError';
}

/**
 * The picture interval. Pictures are samples, so a run of bad ones is as long as what they show:
 * a 3-s impairment anywhere covers three whole-second pictures. Across a snippet boundary the
 * snippet it begins or ends in shows at least half of it; a half of more than 1 s holds the picture
 * at 1 s (a run of 2 s, ended by the next picture), one of 1 s or less leaves 2 s or more in the
 * snippet before, so at least its pictures at 13 and 14 s. Each picture is a keyframe decoded
 * (about 3 ms at 640x360 and 5 Mbit/s), and half a second cost twice as much to find the same.
 * A second apart, though, a still stretch of 2 to 3 s can cover three pictures and read as 3 s:
 * scoreSnippet measures a flagged picture again at FINE_PICTURE_SEC.
 */
export const PICTURE_SEC = 1;
export const FINE_PICTURE_SEC = 0.5;
/**
 * Audio windows average, so an impairment loses the windows it only partly covers: at 0.5 s a
 * 3-s silence that did not start on a window boundary made a run of 2.5 s. At 0.1 s it loses
 * 0.2 s at most, which the rules allow for.
 */
export const AUDIO_WINDOW_SEC = 0.1;
const PICTURE = PICTURE_SIZE;
const RATE = 48_000;

/**
 * Decoded lossy audio ripples around full scale, so anything this close to it counts as clipped:
 * of an MP3 of a hard-clipped tone, 6 % of the samples come out at 0.99 or above, but 35 % at 0.95.
 */
const FULL_SCALE = 0.95;

/** RMS, peak (dBFS) and the share of clipped samples per window, from mono 32-bit float samples. */
export function audioWindows(samples: Float32Array, rate: number, windowSec = AUDIO_WINDOW_SEC) {
  const size = Math.round(rate * windowSec);
  const windows: AudioWindow[] = [];
  const db = (v: number) => (v > 0 ? 20 * Math.log10(v) : -Infinity);
  for (let from = 0; from + size / 2 <= samples.length; from += size) {
    const to = Math.min(samples.length, from + size);
    let sum = 0;
    let peak = 0;
    let clipped = 0;
    let diff = 0;
    for (let i = from; i < to; i++) {
      const v = samples[i]!;
      sum += v * v;
      if (i > from) diff += (v - samples[i - 1]!) ** 2;
      peak = Math.max(peak, Math.abs(v));
      if (Math.abs(v) >= FULL_SCALE) clipped += 1;
    }
    windows.push({
      atSec: from / rate,
      rmsDb: db(Math.sqrt(sum / (to - from))),
      peakDb: db(peak),
      clippedShare: clipped / (to - from),
      hfRatio: sum > 0 ? Math.sqrt(diff / sum) : 0,
    });
  }
  return windows;
}

/** Mean, spread and change against the previous picture, from GRAY8 pictures one window apart. */
export function videoWindows(frames: Uint8Array, pixels: number, windowSec = PICTURE_SEC) {
  const count = Math.floor(frames.length / pixels);
  const picture = (f: number) => frames.subarray(f * pixels, (f + 1) * pixels);
  return Array.from({ length: count }, (_, f): VideoWindow => ({
    atSec: f * windowSec,
    ...pictureStats(picture(f), f > 0 ? picture(f - 1) : null),
  }));
}

/** The keyframe each picture window is drawn from, and those keyframes as a stream to decode. */
interface KeyframePlan {
  stream: Buffer;
  /** Per window, which of the decoded pictures it shows. */
  pictureOfWindow: number[];
  durationSec: number;
  /** No sound GStreamer reads (see soundReadable): the picture is all there is. */
  soundless: boolean;
}

/**
 * Null unless the file has a keyframe at least every window (a recording's GOP is a third of a
 * second); such a file is then decoded in full and thinned after.
 */
async function keyframePlan(file: string, pictureSec: number): Promise<KeyframePlan | null> {
  const buf = await readFile(file).catch(() => null);
  if (!buf) return null;
  try {
    const index = keyframeIndex(buf);
    if (index.durationSec <= 0 || index.keyframes.length / index.durationSec < 1 / pictureSec)
      return null;
    const picks = keyframePerWindow(index.keyframes, index.durationSec, pictureSec);
    // picks never go down, so the distinct ones are in stream order.
    const decoded = [...new Set(picks)];
    const position = new Map(decoded.map((k, i) => [k, i]));
    return {
      stream: keyframeStream(buf, index, decoded),
      pictureOfWindow: picks.map((k) => position.get(k)!),
      durationSec: index.durationSec,
      soundless: !soundReadable(buf),
    };
  } catch {
    // An index or keyframe it cannot read: the whole decode below says what is wrong, if anything.
    return null;
  }
}

/**
 * Decodes the snippet: the audio samples go to one file beside it, small pictures to another.
 *
 * Pictures are samples one window apart. When the file has a keyframe at least every window, the
 * keyframe nearest each window's start is picked from the file's index and only those are
 * decoded (written beside the file for the purpose): one in three of a recording's keyframes and
 * none of the pictures between them, which would otherwise be thrown away after costing most of
 * the decoding.
 *
 * What tapedeck records (AAC in MP4, MP3) is decoded by a chain of named elements. decodebin,
 * which finds a decoder for anything, took 38 ms of CPU for a 15-s MP3 (it chose a slower decoder)
 * against the chain's 13, and 23 ms for an MP4's sound against 12. A snippet the chain refuses is
 * decoded again through decodebin.
 */
export async function measureSnippet(
  file: string,
  o: {
    hasVideo: boolean;
    timeoutMs?: number;
    pictureSec?: number;
    /** False: the sound only, for an MP4 whose pictures were measured as recorded. */
    pictures?: boolean;
  },
): Promise<SnippetMeasurements> {
  const pictureSec = o.pictureSec ?? PICTURE_SEC;
  const out = { audio: `${file}.audio.f32`, pictures: `${file}.pictures.gray` };
  if (o.hasVideo && o.pictures === false) return measureSound(file, out.audio, o.timeoutMs);
  const plan = o.hasVideo ? await keyframePlan(file, pictureSec) : null;
  // From a file: h264parse behind a pipe refuses the stream's caps as unfixed.
  const keyframes = `${file}.keyframes.h264`;
  if (plan) await writeFile(keyframes, plan.stream);
  // mpegaudioparse finds "frames" in anything, so only a file of whole MP3 frames takes the chain.
  const wholeMp3 = !o.hasVideo && (await inspectMp3(file).catch(() => null))?.complete === true;
  const { named, general } = decodePipelines(file, out, {
    ...o,
    pictureSec,
    plan,
    keyframes,
    wholeMp3,
  });
  const run = (pipeline: string) => sharedMeasuringProcess().run(pipeline, o.timeoutMs ?? 60_000);
  let raw: Buffer;
  let decoded: Buffer;
  let decodeCpuSec = 0;
  let decodedBy: 'named' | 'decodebin' = named === general ? 'decodebin' : 'named';
  try {
    try {
      decodeCpuSec = await run(named);
    } catch (err) {
      // Only a refusal: a decoder that hangs or crashes on the file would do it again.
      if (!(err instanceof PipelineRefused) || named === general) throw err;
      decodedBy = 'decodebin';
      decodeCpuSec = await run(general);
    }
    // A soundless snippet is measured as silence as long as its picture.
    raw =
      decodedBy === 'named' && plan?.soundless
        ? Buffer.alloc(Math.round(plan.durationSec * RATE) * 4)
        : await readFile(out.audio);
    decoded = o.hasVideo ? await readFile(out.pictures) : Buffer.alloc(0);
  } catch (err) {
    throw decodeError(err);
  } finally {
    await Promise.all([keyframes, out.audio, out.pictures].map((f) => rm(f, { force: true })));
  }
  const { width, height } = PICTURE;
  const samples = soundSamples(raw);
  const durationSec = samples.length / RATE;
  const audio = audioWindows(samples, RATE, AUDIO_WINDOW_SEC);
  if (!o.hasVideo) return { durationSec, audio, video: null, decodeCpuSec, decodedBy };
  const pixels = width * height;
  if (decoded.length < pixels) throw new MeasureError('the snippet has no pictures');
  let frames: Uint8Array = decoded;
  // Only the named chain decodes the planned keyframes; decodebin decodes the whole file.
  const usedPlan = decodedBy === 'named' ? plan : null;
  if (usedPlan) {
    const count = Math.floor(decoded.length / pixels);
    const wanted = new Set(usedPlan.pictureOfWindow).size;
    if (count !== wanted)
      throw new MeasureError(`${count} of the snippet's ${wanted} chosen keyframes decoded`);
    frames = new Uint8Array(usedPlan.pictureOfWindow.length * pixels);
    usedPlan.pictureOfWindow.forEach((p, w) =>
      frames.set(decoded.subarray(p * pixels, (p + 1) * pixels), w * pixels),
    );
  }
  const video = videoWindows(frames, pixels, pictureSec);
  return { durationSec, audio, video, decodeCpuSec, decodedBy };
}

/**
 * An MP4's sound alone, through the named chain (decodebin if it refuses); the demuxer's video
 * pad stays unlinked. A file without sound GStreamer reads is silence as long as its picture.
 */
async function measureSound(
  file: string,
  audioOut: string,
  timeoutMs = 60_000,
): Promise<SnippetMeasurements> {
  const buf = await readFile(file).catch(() => null);
  if (!buf) throw new MeasureError('the snippet could not be read');
  let silentSec: number | null = null;
  try {
    if (!soundReadable(buf)) silentSec = keyframeIndex(buf).durationSec;
  } catch {
    // Not an MP4 these can read: the decode says what is wrong, if anything.
  }
  if (silentSec !== null) {
    const samples = new Float32Array(Math.round(silentSec * RATE));
    if (samples.length === 0) throw new MeasureError('the snippet has no audio');
    return {
      durationSec: silentSec,
      audio: audioWindows(samples, RATE),
      video: null,
      decodeCpuSec: 0,
    };
  }
  const toAudio = soundChain(audioOut);
  const source = `filesrc location=${quote(file)}`;
  const named = `${source} ! qtdemux ! audio/mpeg,mpegversion=4 ! aacparse ! avdec_aac ${toAudio}`;
  const general = `${source} ! decodebin name=d d. ! audio/x-raw ! queue ${toAudio}`;
  const run = (pipeline: string) => sharedMeasuringProcess().run(pipeline, timeoutMs);
  let decodedBy: 'named' | 'decodebin' = 'named';
  let decodeCpuSec: number;
  let raw: Buffer;
  try {
    try {
      decodeCpuSec = await run(named);
    } catch (err) {
      if (!(err instanceof PipelineRefused)) throw err;
      decodedBy = 'decodebin';
      decodeCpuSec = await run(general);
    }
    raw = await readFile(audioOut);
  } catch (err) {
    throw decodeError(err);
  } finally {
    await rm(audioOut, { force: true });
  }
  const samples = soundSamples(raw);
  return {
    durationSec: samples.length / RATE,
    audio: audioWindows(samples, RATE),
    video: null,
    decodeCpuSec,
    decodedBy,
  };
}

/** What a failed decode means for the snippet: a MeasureError when it is the file's fault. */
function decodeError(err: unknown): unknown {
  if (err instanceof PipelineFailure)
    return new MeasureError(`the snippet could not be decoded: ${err.message}`);
  if ((err as NodeJS.ErrnoException).code === 'ENOENT')
    return new MeasureError('the snippet could not be decoded: no output');
  return err;
}

/** The decoded F32LE samples; a snippet without any cannot be scored. */
function soundSamples(raw: Buffer): Float32Array {
  const samples = new Float32Array(
    raw.buffer.slice(raw.byteOffset, raw.byteOffset + Math.floor(raw.length / 4) * 4),
  );
  if (samples.length === 0) throw new MeasureError('the snippet has no audio');
  return samples;
}

function soundChain(audioOut: string): string {
  return (
    '! audioconvert ! audioresample ! ' +
    `audio/x-raw,format=F32LE,channels=1,rate=${RATE} ! filesink location=${quote(audioOut)}`
  );
}

/**
 * The snippet's decode as two pipelines: `named` for what tapedeck records, `general` for any
 * file (the same when there is no shorter way).
 */
function decodePipelines(
  file: string,
  out: { audio: string; pictures: string },
  o: {
    hasVideo: boolean;
    pictureSec: number;
    plan: KeyframePlan | null;
    keyframes: string;
    wholeMp3: boolean;
  },
): { named: string; general: string } {
  const { width, height } = PICTURE;
  const toAudio = soundChain(out.audio);
  // Shrunk before their format changes.
  const shrink =
    `! videoscale ! video/x-raw,width=${width},height=${height} ! videoconvert ! ` +
    `video/x-raw,format=GRAY8,width=${width},height=${height} ! filesink location=${quote(out.pictures)}`;
  // Thinned to one picture per window before anything touches their pixels.
  const toPictures = `! video/x-raw ! queue ! videorate ! video/x-raw,framerate=${1 / o.pictureSec}/1 ${shrink}`;
  const source = `filesrc location=${quote(file)}`;
  const general =
    `${source} ! decodebin name=d d. ! audio/x-raw ! queue ${toAudio}` +
    (o.hasVideo ? ` d. ${toPictures}` : '');
  if (!o.hasVideo)
    return {
      named: o.wholeMp3 ? `${source} ! mpegaudioparse ! mpg123audiodec ${toAudio}` : general,
      general,
    };
  if (!o.plan) return { named: general, general };
  // One keyframe at a time: a decoder's threads only cost it more here.
  const keyframeDecode =
    `filesrc location=${quote(o.keyframes)} ! video/x-h264,stream-format=byte-stream ! ` +
    `h264parse ! avdec_h264 max-threads=1 ${shrink}`;
  if (o.plan.soundless) return { named: keyframeDecode, general };
  // The demuxer's video pad stays unlinked (qtdemux goes on while one pad is linked); linked to
  // a fakesink, the pipeline never prerolled.
  return {
    named: `${source} ! qtdemux ! audio/mpeg,mpegversion=4 ! aacparse ! avdec_aac ${toAudio} ${keyframeDecode}`,
    general,
  };
}
