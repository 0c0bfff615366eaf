import { runOk, run } from './run.ts';

export interface VideoInfo {
  codec: string;
  profile: string;
  pixFmt: string;
  width: number;
  height: number;
  /** From avg_frame_rate (falls back to r_frame_rate when that is 0/0). */
  fps: number;
  durationSec: number;
  /** Packets actually read (-count_packets), not the container's claim. */
  frames: number;
  /** Summed packet sizes over durationSec; headers can lie or be absent. */
  bitRateKbps: number;
}

export interface AudioInfo {
  codec: string;
  sampleRate: number;
  channels: number;
  durationSec: number;
  /** Summed packet sizes over durationSec; headers can lie or be absent. */
  bitRateKbps: number;
}

export interface MediaInfo {
  durationSec: number;
  sizeBytes: number;
  formatName: string;
  /** First video stream, if any. */
  video?: VideoInfo;
  /** First audio stream, if any. */
  audio?: AudioInfo;
}

/** One packet of a stream, in presentation order. */
export interface PacketTime {
  ptsSec: number;
  durationSec: number;
}

// Only the ffprobe JSON fields we read; every field is optional because
// ffprobe omits what a container/codec does not provide.
interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  pix_fmt?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  nb_read_packets?: string;
}

interface ProbeFormat {
  format_name?: string;
  duration?: string;
  size?: string;
}

interface ProbePacket {
  stream_index?: number;
  pts_time?: string;
  duration_time?: string;
  size?: string;
}

function num(value: string | number | undefined): number {
  const n = typeof value === 'number' ? value : Number.parseFloat(value ?? '');
  return Number.isFinite(n) ? n : Number.NaN;
}

function rate(fraction: string | undefined): number {
  const [n, d] = (fraction ?? '').split('/').map(Number);
  return n !== undefined && d !== undefined && d > 0 ? n / d : 0;
}

async function ffprobeJson<T>(args: readonly string[]): Promise<T> {
  const { stdout } = await runOk('ffprobe', ['-v', 'error', '-print_format', 'json', ...args]);
  return JSON.parse(stdout) as T;
}

interface PacketStats {
  bytes: number;
  /** Span from the first pts to the end of the last packet. */
  spanSec: number;
}

function packetStats(packets: readonly ProbePacket[], streamIndex: number): PacketStats {
  let bytes = 0;
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const p of packets) {
    if (p.stream_index !== streamIndex) continue;
    bytes += num(p.size) || 0;
    const pts = num(p.pts_time);
    if (Number.isNaN(pts)) continue;
    start = Math.min(start, pts);
    end = Math.max(end, pts + (num(p.duration_time) || 0));
  }
  return { bytes, spanSec: end > start ? end - start : 0 };
}

function streamDuration(stream: ProbeStream, stats: PacketStats): number {
  // MPEG-TS and FLV streams often carry no per-stream duration.
  const declared = num(stream.duration);
  return Number.isNaN(declared) ? stats.spanSec : declared;
}

function kbps(bytes: number, seconds: number): number {
  return seconds > 0 ? (bytes * 8) / seconds / 1000 : 0;
}

/** Probes container and first audio/video stream with ffprobe. */
export async function probeMedia(path: string): Promise<MediaInfo> {
  const [meta, pkts] = await Promise.all([
    ffprobeJson<{ format?: ProbeFormat; streams?: ProbeStream[] }>([
      '-count_packets',
      '-show_format',
      '-show_streams',
      path,
    ]),
    ffprobeJson<{ packets?: ProbePacket[] }>([
      '-show_entries',
      'packet=stream_index,pts_time,duration_time,size',
      path,
    ]),
  ]);
  const packets = pkts.packets ?? [];
  const streams = meta.streams ?? [];
  const info: MediaInfo = {
    durationSec: num(meta.format?.duration),
    sizeBytes: num(meta.format?.size),
    formatName: meta.format?.format_name ?? '',
  };

  const v = streams.find((s) => s.codec_type === 'video');
  if (v) {
    const stats = packetStats(packets, v.index);
    const durationSec = streamDuration(v, stats);
    info.video = {
      codec: v.codec_name ?? '',
      profile: v.profile ?? '',
      pixFmt: v.pix_fmt ?? '',
      width: v.width ?? 0,
      height: v.height ?? 0,
      fps: rate(v.avg_frame_rate) || rate(v.r_frame_rate),
      durationSec,
      frames: num(v.nb_read_packets),
      bitRateKbps: kbps(stats.bytes, durationSec),
    };
  }

  const a = streams.find((s) => s.codec_type === 'audio');
  if (a) {
    const stats = packetStats(packets, a.index);
    const durationSec = streamDuration(a, stats);
    info.audio = {
      codec: a.codec_name ?? '',
      sampleRate: num(a.sample_rate),
      channels: a.channels ?? 0,
      durationSec,
      bitRateKbps: kbps(stats.bytes, durationSec),
    };
  }
  return info;
}

/**
 * Fully decodes the file and returns ffmpeg's error output; '' means it
 * decodes cleanly. A failing ffmpeg with silent stderr still yields text.
 * keepFrameTimes: for merged clips.
 */
export async function decodeErrors(
  path: string,
  o: { keepFrameTimes?: boolean } = {},
): Promise<string> {
  const { code, signal, stderr } = await run('ffmpeg', [
    '-nostdin',
    '-v',
    'error',
    '-i',
    path,
    // A merged clip's joins sit a few ms off the frame grid; ffmpeg's null output would otherwise
    // put every frame on that grid (1/fps) and complain about two frames landing in one slot.
    ...(o.keepFrameTimes ? ['-fps_mode', 'passthrough', '-enc_time_base', '-1'] : []),
    '-f',
    'null',
    '-',
  ]);
  const text = stderr.trim();
  if (text === '' && code !== 0) return `ffmpeg exited with ${signal ?? `code ${code}`}`;
  return text;
}

/** Packets of the first stream of a kind, sorted by pts (decode order differs with B-frames). */
export async function packetTimes(path: string, kind: 'v' | 'a'): Promise<PacketTime[]> {
  const { packets = [] } = await ffprobeJson<{ packets?: ProbePacket[] }>([
    '-select_streams',
    `${kind}:0`,
    '-show_entries',
    'packet=pts_time,duration_time',
    path,
  ]);
  return packets
    .map((p) => ({ ptsSec: num(p.pts_time), durationSec: num(p.duration_time) || 0 }))
    .filter((p) => !Number.isNaN(p.ptsSec))
    .sort((x, y) => x.ptsSec - y.ptsSec);
}

/** Presentation time in seconds of every video frame, ascending. */
export async function videoFrameTimes(path: string): Promise<number[]> {
  return (await packetTimes(path, 'v')).map((p) => p.ptsSec);
}

/**
 * The longest step between consecutive video frames and the time of the frame before it: a
 * missing frame shows as a step of two frame durations. -Infinity with fewer than two frames.
 */
export async function largestFrameGap(path: string): Promise<{ gapSec: number; afterSec: number }> {
  const times = await videoFrameTimes(path);
  let gapSec = -Infinity;
  let afterSec = Number.NaN;
  for (let k = 1; k < times.length; k++) {
    const gap = times[k]! - times[k - 1]!;
    if (gap > gapSec) [gapSec, afterSec] = [gap, times[k - 1]!];
  }
  return { gapSec, afterSec };
}

/** Mean luma (16 black to 235 white) of every video frame, in presentation order. */
export async function frameLumas(path: string): Promise<{ ptsSec: number; yavg: number }[]> {
  const { stderr } = await runOk('ffmpeg', [
    ...'-nostdin -v info -i'.split(' '),
    path,
    ...'-map 0:v:0 -vf signalstats,metadata=print:key=lavfi.signalstats.YAVG -f null -'.split(' '),
  ]);
  const frames: { ptsSec: number; yavg: number }[] = [];
  let pts = Number.NaN;
  for (const line of stderr.split('\n')) {
    const time = /pts_time:(\S+)/.exec(line);
    if (time) pts = Number(time[1]);
    const y = /YAVG=(\S+)/.exec(line);
    if (y) frames.push({ ptsSec: pts, yavg: Number(y[1]) });
  }
  return frames;
}
