/**
 * An ffmpeg-based recorder producing the same outputs as tapedeck from synthetic live inputs,
 * used as a contender in the media benchmark.
 *
 * Pacing: every lavfi input gets `-re`, which makes ffmpeg read it at its native rate (verified:
 * `-re -f lavfi -i testsrc2=...` with `-t 5` takes ~5.2 s wall instead of ~0.4 s; the `realtime`
 * video filter paces as well, but would need an `arealtime` twin on every audio branch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { mp3Bitrate } from '../media/pipeline/encoders.ts';
import { RtpMissCounter } from './ffmpeg-rtp-misses.ts';

export type RecorderKind = 'composite' | 'host' | 'audio';

export interface FfmpegRecorderSpec {
  kind: RecorderKind;
  /** Number of synthetic hosts, 1..9 ('host' takes exactly 1). */
  inputs: number;
  durationSec: number;
  outDir: string;
  canvas: { width: number; height: number };
  fps: number;
  /** Frames from one keyframe to the next. */
  gopFrames: number;
  videoKbps: number;
  /** x264 preset, the same as tapedeck's so the encoders do the same work. */
  preset: string;
  audioKbps: number;
  /** Channels encoded, as tapedeck's profile says (mono by default, like a host's microphone). */
  audioChannels: number;
  snippetSec: number;
  /**
   * Live RTP instead of synthetic sources: one SDP file per host, each with the host's video
   * (unless audio-only) and audio. Stopped with SIGINT; durationSec may be Infinity.
   */
  sdpInputs?: string[];
}

export interface Grid {
  cols: number;
  rows: number;
}

const INPUT_WIDTH = 640;
const INPUT_HEIGHT = 360;
const SAMPLE_RATE = 48000;

/**
 * The grid (cols x rows, cols*rows >= n) that maximises the size of a 16:9 picture fitted into
 * one cell of the canvas. Ties go to fewer cells, then to fewer columns.
 */
export function chooseGrid(n: number, canvas: { width: number; height: number }): Grid {
  let best: Grid = { cols: 1, rows: n };
  let bestWidth = -1;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cellW = canvas.width / cols;
    const cellH = canvas.height / rows;
    const fittedWidth = Math.min(cellW, (cellH * 16) / 9);
    const better =
      fittedWidth > bestWidth + 1e-9 ||
      (Math.abs(fittedWidth - bestWidth) <= 1e-9 && cols * rows < best.cols * best.rows);
    if (better) {
      best = { cols, rows };
      bestWidth = fittedWidth;
    }
  }
  return best;
}

/** Sine frequency of input i: 330, 440, 550, ... Hz, distinct per input. */
export function sineFrequency(i: number): number {
  return 330 + 110 * i;
}

const even = (x: number): number => Math.max(2, Math.floor(x / 2) * 2);

function validate(spec: FfmpegRecorderSpec): void {
  if (!Number.isInteger(spec.inputs) || spec.inputs < 1 || spec.inputs > 9) {
    throw new RangeError(`inputs must be an integer 1..9, got ${spec.inputs}`);
  }
  if (spec.kind === 'host' && spec.inputs !== 1) {
    throw new RangeError(`a 'host' recording has exactly 1 input, got ${spec.inputs}`);
  }
  for (const key of ['durationSec', 'fps', 'videoKbps', 'audioKbps', 'snippetSec'] as const) {
    if (!(spec[key] > 0)) throw new RangeError(`${key} must be > 0, got ${spec[key]}`);
  }
  if (spec.audioChannels !== 1 && spec.audioChannels !== 2)
    throw new RangeError(`audioChannels must be 1 or 2, got ${spec.audioChannels}`);
  if (spec.kind !== 'audio' && !(spec.canvas.width >= 2 && spec.canvas.height >= 2)) {
    throw new RangeError(`bad canvas ${spec.canvas.width}x${spec.canvas.height}`);
  }
}

/** Video filter graph: inputs scaled into grid tiles, stacked, padded onto a black canvas. */
function videoGraph(spec: FfmpegRecorderSpec, videoInputIndex: (i: number) => number): string {
  const n = spec.inputs;
  const { width: W, height: H } = spec.canvas;
  const { cols, rows } = chooseGrid(n, spec.canvas);
  const cellW = even(W / cols);
  const cellH = even(H / rows);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(
      `[${videoInputIndex(i)}:v]scale=${cellW}:${cellH}:force_original_aspect_ratio=decrease` +
        `:force_divisible_by=2,pad=${cellW}:${cellH}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1[t${i}]`,
    );
  }
  let stacked = 't0';
  if (n > 1) {
    const layout = Array.from(
      { length: n },
      (_, i) => `${(i % cols) * cellW}_${Math.floor(i / cols) * cellH}`,
    ).join('|');
    const tiles = Array.from({ length: n }, (_, i) => `[t${i}]`).join('');
    parts.push(`${tiles}xstack=inputs=${n}:layout=${layout}:fill=black[stack]`);
    stacked = 'stack';
  }
  parts.push(`[${stacked}]pad=${W}:${H}:(ow-iw)/2:(oh-ih)/2:color=black,format=yuv420p[vout]`);
  return parts.join(';');
}

/** Audio filter graph: the inputs' sines mixed (or passed through when there is one). */
function audioGraph(n: number, audioInputIndex: (i: number) => number): string {
  const pads = Array.from({ length: n }, (_, i) => `[${audioInputIndex(i)}:a]`).join('');
  return n > 1 ? `${pads}amix=inputs=${n}:duration=longest[aout]` : `${pads}anull[aout]`;
}

/** argv (without the leading "ffmpeg") recording spec's outputs from synthetic paced inputs. */
export function ffmpegRecorderArgs(spec: FfmpegRecorderSpec): string[] {
  validate(spec);
  const n = spec.inputs;
  const withVideo = spec.kind !== 'audio';
  const rtp = spec.sdpInputs;
  // From RTP, warnings too: the demuxer says in them which packets never reached it.
  const args = ['-hide_banner', '-nostdin', '-loglevel', rtp ? 'warning' : 'error', '-y'];

  // Inputs: per host a video source (unless audio-only) then an audio source, or one SDP
  // that carries both.
  if (rtp && rtp.length !== n) throw new RangeError(`${n} inputs but ${rtp.length} SDP files`);
  const perInput = rtp ? 1 : withVideo ? 2 : 1;
  const videoIndex = (i: number): number => i * perInput;
  const audioIndex = (i: number): number => i * perInput + (withVideo && !rtp ? 1 : 0);
  for (let i = 0; rtp && i < n; i++)
    args.push(
      ...['-protocol_whitelist', 'file,udp,rtp', '-thread_queue_size', '1024'],
      ...['-i', rtp[i]!],
    );
  for (let i = 0; !rtp && i < n; i++) {
    if (withVideo) {
      args.push(
        '-re',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${INPUT_WIDTH}x${INPUT_HEIGHT}:rate=${spec.fps}`,
      );
    }
    args.push(
      '-re',
      '-f',
      'lavfi',
      '-i',
      `sine=frequency=${sineFrequency(i)}:sample_rate=${SAMPLE_RATE}`,
    );
  }

  const graphs = withVideo ? [videoGraph(spec, videoIndex)] : [];
  graphs.push(audioGraph(n, audioIndex));
  args.push('-filter_complex', graphs.join(';'));
  if (withVideo) args.push('-map', '[vout]');
  args.push('-map', '[aout]');

  if (withVideo) {
    const gop = String(spec.gopFrames);
    const kbps = `${spec.videoKbps}k`;
    args.push(
      '-c:v',
      'libx264',
      '-preset',
      spec.preset,
      '-profile:v',
      'main',
      '-pix_fmt',
      'yuv420p',
      '-r',
      String(spec.fps),
      '-g',
      gop,
      '-keyint_min',
      gop,
      '-sc_threshold',
      '0',
      '-b:v',
      kbps,
      '-maxrate',
      kbps,
      '-bufsize',
      kbps,
      '-c:a',
      'aac',
    );
  } else {
    args.push('-c:a', 'libmp3lame');
  }
  // The same audio as tapedeck's: its channel count (lavfi's sine is mono, which would halve the
  // encoder's work), and for MP3 the same valid bitrate it rounds up to.
  const audioKbps = withVideo ? spec.audioKbps : mp3Bitrate(spec.audioKbps);
  args.push('-b:a', `${audioKbps}k`, '-ar', String(SAMPLE_RATE), '-ac', String(spec.audioChannels));

  if (Number.isFinite(spec.durationSec)) args.push('-t', String(spec.durationSec));
  const ext = withVideo ? 'mp4' : 'mp3';
  args.push(
    '-f',
    'segment',
    '-segment_time',
    String(spec.snippetSec),
    '-reset_timestamps',
    '1',
    '-segment_format',
    ext,
  );
  if (withVideo) args.push('-segment_format_options', 'movflags=+faststart');
  args.push(join(spec.outDir, `ffmpeg_%06d.${ext}`));
  return args;
}

export interface FfmpegRun {
  child: ChildProcess;
  /** Exit code; 128+signal number when killed by a signal. */
  done: Promise<number>;
  /** SIGINT to the process group (ffmpeg finalises the open snippet), then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Last few KiB of ffmpeg's stderr. */
  stderrTail(): string;
  /** RTP packets the recorder said it never got (inputs from SDP only). */
  rtpMissed(): number;
}

/** Spawns ffmpeg (detached, in its own process group) for spec; creates outDir. */
export function runFfmpegRecorder(
  spec: FfmpegRecorderSpec,
  { ffmpegPath = 'ffmpeg' }: { ffmpegPath?: string } = {},
): FfmpegRun {
  const args = ffmpegRecorderArgs(spec);
  mkdirSync(spec.outDir, { recursive: true });
  const child = spawn(ffmpegPath, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  const misses = new RtpMissCounter();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
    misses.push(chunk);
  });
  const done = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGINT'): Promise<number> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    }
    return done;
  };
  return { child, done, stop, stderrTail: () => tail, rtpMissed: () => misses.missed };
}
