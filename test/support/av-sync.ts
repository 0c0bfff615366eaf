import { packetTimes } from './ffprobe.ts';
import { runOk } from './run.ts';

/**
 * A/V sync of the blink/tick test source: the picture switches between black
 * and bright on every whole second and the audio ticks on every whole second,
 * so each video edge should coincide with a tick onset.
 */

export interface AvSyncOptions {
  /** Only this part of the picture carries the flashes (a tile of a composite). */
  crop?: { x: number; y: number; width: number; height: number };
  /** blackdetect pix_th: a pixel is black when its luma is below this fraction of the range. */
  pixTh?: number;
  /**
   * blackdetect pic_th: a frame is black when at least this fraction of its
   * pixels are black. 0.9 makes any frame with >10 % bright pixels non-black,
   * so a bright region covering >= 15 % of the frame reliably counts.
   */
  picTh?: number;
  /** blackdetect d: shortest black run reported; one frame is enough for an edge. */
  minBlackSec?: number;
  /** silencedetect n, in dB: audio below this is silence. */
  noiseDb?: number;
  /**
   * silencedetect d: shortest silence reported. Gaps between ticks are about
   * 0.98 s; keep this short so a snippet that starts mid-gap still yields its
   * first onset, but longer than a half sine period inside a tick.
   */
  minSilenceSec?: number;
}

export interface AvSyncResult {
  /** Stream times (s) where the picture switched black<->bright. */
  videoEdgesSec: number[];
  /** Stream times (s) where a tick starts (silence_end). */
  audioOnsetsSec: number[];
  /** Per video edge: nearest onset minus edge, in ms; positive = audio late. */
  offsetsMs: number[];
  maxAbsOffsetMs: number;
  medianOffsetMs: number;
}

export const AV_SYNC_DEFAULTS: Required<Omit<AvSyncOptions, 'crop'>> = {
  pixTh: 0.1,
  picTh: 0.9,
  minBlackSec: 0.04,
  noiseDb: -40,
  minSilenceSec: 0.1,
};

// Times never stray more than this from a frame/sample boundary.
const EPS = 1e-3;

function matches(stderr: string, re: RegExp): number[] {
  return [...stderr.matchAll(re)].map((m) => Number.parseFloat(m[1] ?? ''));
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/**
 * Measures A/V offset of a recording of the blink/tick source. Offsets are
 * only unambiguous within +-500 ms because edges and ticks repeat every second.
 * Throws if no edge or no onset is found, so a broken source cannot pass as
 * "in sync".
 */
export async function measureAvSync(path: string, opts: AvSyncOptions = {}): Promise<AvSyncResult> {
  const o = { ...AV_SYNC_DEFAULTS, ...opts };
  const crop = opts.crop
    ? `crop=${opts.crop.width}:${opts.crop.height}:${opts.crop.x}:${opts.crop.y},`
    : '';
  const [{ stderr }, video, audio] = await Promise.all([
    // -copyts keeps raw stream timestamps so they line up with ffprobe's.
    runOk('ffmpeg', [
      '-nostdin',
      '-hide_banner',
      '-nostats',
      '-copyts',
      '-i',
      path,
      '-map',
      '0:v:0',
      '-map',
      '0:a:0',
      '-vf',
      `${crop}blackdetect=d=${o.minBlackSec}:pix_th=${o.pixTh}:pic_th=${o.picTh}`,
      '-af',
      `silencedetect=n=${o.noiseDb}dB:d=${o.minSilenceSec}`,
      '-f',
      'null',
      '-',
    ]),
    packetTimes(path, 'v'),
    packetTimes(path, 'a'),
  ]);

  const firstFrame = video[0]?.ptsSec ?? 0;
  const lastFrame = video.at(-1)?.ptsSec ?? 0;
  const lastAudio = audio.at(-1);
  const audioEnd = lastAudio ? lastAudio.ptsSec + lastAudio.durationSec : 0;

  // A black run at the very start or end is a stream boundary, not an edge;
  // at EOF blackdetect reports black_end as the last frame's pts.
  const videoEdgesSec = [
    ...matches(stderr, /black_start:\s*(-?[\d.]+)/g),
    ...matches(stderr, /black_end:\s*(-?[\d.]+)/g),
  ]
    .filter((t) => t > firstFrame + EPS && t < lastFrame - EPS)
    .sort((a, b) => a - b);
  // silencedetect reports silence running into EOF as a silence_end at EOF.
  const audioOnsetsSec = matches(stderr, /silence_end:\s*(-?[\d.]+)/g)
    .filter((t) => t < audioEnd - EPS)
    .sort((a, b) => a - b);

  if (videoEdgesSec.length === 0) throw new Error(`no black/bright video edges found in ${path}`);
  if (audioOnsetsSec.length === 0) throw new Error(`no audio tick onsets found in ${path}`);

  const offsetsMs = videoEdgesSec.map((edge) => {
    let best = Number.POSITIVE_INFINITY;
    for (const onset of audioOnsetsSec) {
      if (Math.abs(onset - edge) < Math.abs(best)) best = onset - edge;
    }
    return best * 1000;
  });
  return {
    videoEdgesSec,
    audioOnsetsSec,
    offsetsMs,
    maxAbsOffsetMs: Math.max(...offsetsMs.map(Math.abs)),
    medianOffsetMs: median(offsetsMs),
  };
}
