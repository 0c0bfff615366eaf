/** What a recording's encoders produce. Everything here is configurable; the defaults follow the product spec. */
export interface VideoProfile {
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  /**
   * Keyframe interval in seconds; a snippet length must be a whole number of GOPs so every snippet
   * ends exactly on its boundary. The muxer can only close a snippet once the GOP after it is
   * complete, so the GOP is also how late a snippet becomes available: a third of a second (5
   * frames at 15 fps) measured 0.44 s from a snippet's end to its close, against 1.06 s with 1 s.
   */
  gopSeconds: number;
  /**
   * x264 speed preset. superfast is the default: at 5 Mbit/s on a 360p canvas the bits, not the
   * encoder's search, decide the quality, and it costs about a quarter less than veryfast. It keeps
   * CABAC, so the stream stays Main profile (ultrafast falls to Constrained Baseline).
   */
  preset: X264Preset;
}

export const X264_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

export interface AudioProfile {
  sampleRate: number;
  channels: number;
  bitrateKbps: number;
}

export interface OutputProfile {
  video: VideoProfile;
  audio: AudioProfile;
  snippetSeconds: number;
}

export interface Size {
  width: number;
  height: number;
}

/**
 * Mono: a host's microphone is one channel and the composite mixes them into one, so a second
 * channel carries the same sound again. It is also what keeps the AAC encoder alive at 44 kbit/s:
 * voaacenc crashes (SIGSEGV) on a tone over quiet noise when a channel gets under about 28 kbit/s,
 * so stereo at 44 (22 a channel) crashed in 20 of 20 runs of 30 s, mono at 44 in none.
 */
const defaultAudio: AudioProfile = { sampleRate: 48000, channels: 1, bitrateKbps: 44 };

/** The least AAC bitrate a channel gets: below about 28 kbit/s voaacenc crashes (see above). */
export const MIN_AAC_KBPS_PER_CHANNEL = 32;

export const DEFAULT_COMPOSITE_CANVAS: Size = { width: 360, height: 640 };
export const DEFAULT_HOST_CANVAS: Size = { width: 640, height: 360 };

export function defaultProfile(canvas: Size): OutputProfile {
  return {
    video: { ...canvas, fps: 15, bitrateKbps: 5000, gopSeconds: 1 / 3, preset: 'superfast' },
    audio: { ...defaultAudio },
    snippetSeconds: 15,
  };
}

export class ProfileError extends Error {
  override name = 'ProfileError';
}

/** Parses "WxH"; H.264 in 4:2:0 needs even sizes, and tiny or huge canvases are mistakes, not wishes. */
export function parseCanvas(text: string): Size {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(text.trim());
  if (!m) throw new ProfileError(`canvas "${text}" is not WIDTHxHEIGHT, e.g. 360x640`);
  const size = { width: Number(m[1]), height: Number(m[2]) };
  validateSize(size);
  return size;
}

export function validateSize(size: Size): void {
  for (const [name, v] of [
    ['width', size.width],
    ['height', size.height],
  ] as const) {
    if (!Number.isInteger(v) || v < 64 || v > 3840)
      throw new ProfileError(`canvas ${name} ${v} is out of range: use 64 to 3840 pixels`);
    if (v % 2 !== 0)
      throw new ProfileError(
        `canvas ${name} ${v} is odd: H.264 with 4:2:0 chroma needs even sizes`,
      );
  }
}

export function validateProfile(p: OutputProfile): void {
  validateSize(p.video);
  const checks: [boolean, string][] = [
    [
      p.video.fps >= 1 && p.video.fps <= 60 && Number.isInteger(p.video.fps),
      'fps must be an integer from 1 to 60',
    ],
    [
      p.video.bitrateKbps >= 100 && p.video.bitrateKbps <= 50000,
      'video bitrate must be 100 to 50000 kbit/s',
    ],
    [
      (X264_PRESETS as readonly string[]).includes(p.video.preset),
      `x264 preset must be one of ${X264_PRESETS.join(', ')}`,
    ],
    [
      p.video.gopSeconds > 0 && p.video.gopSeconds <= p.snippetSeconds,
      'GOP must be positive and no longer than a snippet',
    ],
    [
      [8000, 16000, 32000, 44100, 48000].includes(p.audio.sampleRate),
      'audio sample rate must be 8000, 16000, 32000, 44100 or 48000',
    ],
    [p.audio.channels === 1 || p.audio.channels === 2, 'audio channels must be 1 or 2'],
    [
      p.audio.bitrateKbps >= 8 && p.audio.bitrateKbps <= 320,
      'audio bitrate must be 8 to 320 kbit/s',
    ],
    [
      p.audio.bitrateKbps >= MIN_AAC_KBPS_PER_CHANNEL * p.audio.channels,
      `audio bitrate must be at least ${MIN_AAC_KBPS_PER_CHANNEL} kbit/s a channel ` +
        `(${MIN_AAC_KBPS_PER_CHANNEL * p.audio.channels} for ${p.audio.channels === 1 ? 'mono' : 'stereo'}): ` +
        'the AAC encoder crashes on some sound below that',
    ],
    [
      p.snippetSeconds >= 2 && p.snippetSeconds <= 600 && Number.isInteger(p.snippetSeconds),
      'snippet length must be a whole number of seconds from 2 to 600',
    ],
  ];
  for (const [ok, message] of checks) if (!ok) throw new ProfileError(message);
}

/**
 * Pixels per second one x264 thread keeps up with at real time, with room to spare: 720p30.
 * Measured at 640x360 15 fps, a single-threaded encode used about 6 % less CPU than x264's own
 * threading (frame slices handed between threads), and a node runs many small recordings at once,
 * so the cores are used by recordings side by side rather than by one recording's threads.
 */
const ONE_THREAD_PIXEL_RATE = 1280 * 720 * 30;

/** x264 threads for a profile: 1 up to 720p30, and x264's own choice (0) above. */
export function encoderThreads(v: VideoProfile): number {
  return v.width * v.height * v.fps <= ONE_THREAD_PIXEL_RATE ? 1 : 0;
}

export function gopFrames(v: VideoProfile): number {
  return Math.max(1, Math.round(v.fps * v.gopSeconds));
}
