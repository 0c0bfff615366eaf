/**
 * Calibration of the quality scorer: synthetic snippets with known impairments and varied clean
 * content, encoded like tapedeck's own snippets and cut by the same splitmuxsink, are measured and
 * scored exactly as the scorer does (scoreSnippet). Reports detection per
 * impairment and duration, false positives on clean content, and what measuring one snippet costs.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_QUALITY_THRESHOLDS,
  needsReview,
  type Impairment,
  type QualityReason,
  type QualityThresholds,
} from '../domain/quality-rules.ts';
import { DEFAULT_HOST_CANVAS, defaultProfile, type OutputProfile } from '../domain/profile.ts';
import { aacEncoder, mp3Encoder, videoEncoder } from '../media/pipeline/encoders.ts';
import { mp3Recorder, mp4Recorder } from '../media/pipeline/outputs.ts';
import { scoreSnippet } from '../moderation/score-snippet.ts';
import { splitLaunchArgs } from './media-bench.ts';
import { parseProcStat } from './process-usage.ts';
import { seededRandom } from './seeded-random.ts';
import { percentile } from './stats.ts';

export const SNIPPET_SEC = 15;
export const IMPAIRMENT_KINDS: readonly Impairment[] = [
  'black',
  'frozen',
  'silence',
  'clipping',
  'noise',
];
export const VIDEO_IMPAIRMENTS: readonly Impairment[] = ['black', 'frozen'];
/** across: cut in half by a snippet boundary, half at the end of one snippet, half at the next's start. */
export const POSITIONS = ['start', 'middle', 'end', 'across'] as const;
export type Position = (typeof POSITIONS)[number];
export const DEFAULT_DURATIONS = [3, 5, 10] as const;
export type Container = 'mp4' | 'mp3';

const RATE = 48_000;
/** Audio segments are whole 10-ms buffers. */
const AUDIO_BUFFER_SEC = 0.01;

export interface VideoSegment {
  sec: number;
  /** videotestsrc properties after pattern=, e.g. "ball motion=sweep". */
  source: string;
  /** The source's first picture held for the whole segment. */
  still?: boolean;
}

export interface Tone {
  /** audiotestsrc wave. */
  wave: string;
  freq?: number;
  /** RMS level aimed at, in dBFS, before coding. */
  levelDb: number;
  /** Gain after the source, so that a loud tone saturates 16-bit samples: hard clipping. */
  overdrive?: number;
}

export interface AudioSegment {
  sec: number;
  /** Mixed together; none is digital silence. */
  tones: Tone[];
}

export interface Timeline {
  /** A whole number of snippets. */
  totalSec: number;
  video: VideoSegment[];
  audio: AudioSegment[];
}

export interface ImpairedCase {
  name: string;
  impairment: Impairment;
  durationSec: number;
  position: Position;
  container: Container;
  /** The impairment on the timeline, [from, to) seconds. */
  fromSec: number;
  toSec: number;
  timeline: Timeline;
}

export interface CleanCase {
  name: string;
  /** What it stands for, shown with a false positive. */
  description: string;
  timeline: Timeline;
}

// ---------------------------------------------------------------------------------------------
// Pure: timelines.

/** Where an impairment of durationSec sits on its timeline. */
export function impairedRange(
  durationSec: number,
  position: Position,
  snippetSec = SNIPPET_SEC,
): { fromSec: number; toSec: number; totalSec: number } {
  if (!(durationSec > 0 && durationSec <= snippetSec))
    throw new RangeError(`an impairment lasts more than 0 and at most ${snippetSec} s`);
  switch (position) {
    case 'start':
      return { fromSec: 0, toSec: durationSec, totalSec: snippetSec };
    case 'middle': {
      // Off the measuring grid, as a real impairment would be.
      const fromSec = Math.floor((snippetSec - durationSec) / 2) + 0.3;
      return { fromSec, toSec: fromSec + durationSec, totalSec: snippetSec };
    }
    case 'end':
      return { fromSec: snippetSec - durationSec, toSec: snippetSec, totalSec: snippetSec };
    case 'across':
      return {
        fromSec: snippetSec - durationSec / 2,
        toSec: snippetSec + durationSec / 2,
        totalSec: 2 * snippetSec,
      };
  }
}

/** The part of [fromSec, toSec) inside snippet `index`, in that snippet's seconds; null if none. */
export function rangeInSnippet(
  r: { fromSec: number; toSec: number },
  index: number,
  snippetSec = SNIPPET_SEC,
): { fromSec: number; toSec: number } | null {
  const start = index * snippetSec;
  const fromSec = Math.max(r.fromSec, start) - start;
  const toSec = Math.min(r.toSec, start + snippetSec) - start;
  return toSec > fromSec ? { fromSec, toSec } : null;
}

/**
 * Speech-like audio: voiced bursts (a buzzy low tone, a brighter tone or pink noise at a speaking
 * level that drifts from burst to burst) with short pauses of room tone between them.
 */
export function speech(
  rnd: () => number,
  totalSec: number,
  o: { levelDb: number; roomDb: number; maxPauseSec?: number },
): AudioSegment[] {
  const out: AudioSegment[] = [];
  const room: Tone = { wave: 'pink-noise', levelDb: o.roomDb };
  let at = 0;
  while (at < totalSec - 1e-9) {
    const burst = Math.min(totalSec - at, 0.4 + rnd() * 2.2);
    const voice = rnd();
    const levelDb = o.levelDb + (rnd() - 0.5) * 8;
    const tone: Tone =
      voice < 0.4
        ? { wave: 'saw', freq: Math.round(90 + rnd() * 160), levelDb }
        : voice < 0.7
          ? { wave: 'triangle', freq: Math.round(150 + rnd() * 350), levelDb }
          : voice < 0.85
            ? { wave: 'sine', freq: Math.round(200 + rnd() * 600), levelDb }
            : { wave: 'pink-noise', levelDb };
    out.push({ sec: burst, tones: [tone, room] });
    at += burst;
    if (at >= totalSec - 1e-9) break;
    const pause = Math.min(totalSec - at, 0.15 + rnd() * ((o.maxPauseSec ?? 1.2) - 0.15));
    out.push({ sec: pause, tones: [room] });
    at += pause;
  }
  return out;
}

/** Music-like audio: notes of a quarter to two thirds of a second, one after another. */
export function music(rnd: () => number, totalSec: number, levelDb: number): AudioSegment[] {
  const out: AudioSegment[] = [];
  const waves = ['sine', 'triangle', 'saw'];
  let at = 0;
  while (at < totalSec - 1e-9) {
    const sec = Math.min(totalSec - at, 0.25 + rnd() * 0.4);
    const wave = waves[Math.floor(rnd() * waves.length)]!;
    const freq = Math.round(220 * 2 ** (Math.floor(rnd() * 24) / 12));
    out.push({
      sec,
      tones: [
        { wave, freq, levelDb: levelDb + (rnd() - 0.5) * 6 },
        { wave: 'sine', freq: Math.round(freq / 2), levelDb: levelDb - 8 },
      ],
    });
    at += sec;
  }
  return out;
}

/**
 * Pictures that move in luma, which is all the scorer sees: smpte-rp-219 ignores
 * horizontal-speed and chroma-zone-plate moves in colour only, so both are still pictures to it.
 */
const MOVING_SOURCES = [
  'ball',
  'ball motion=sweep background-color=0xff203040',
  'ball motion=hsweep foreground-color=0xffffd040 background-color=0xff406080',
  'smpte horizontal-speed=4',
  'smpte75 horizontal-speed=1',
  'pinwheel horizontal-speed=3',
  'spokes horizontal-speed=2',
  'circular horizontal-speed=2',
  'zone-plate kx2=20 ky2=20 kt=1',
  'zone-plate kt2=2 kx2=10 ky2=10',
  'colors horizontal-speed=6',
  'snow',
  'gamut horizontal-speed=2',
  'checkers-8 horizontal-speed=1',
  'smpte100 horizontal-speed=2',
  'spokes horizontal-speed=5',
];

/** The moving picture behind an impaired case: the case before the impairment and after it. */
function backdrop(index: number): string {
  return [
    'smpte horizontal-speed=4',
    'ball motion=sweep background-color=0xff203040',
    'pinwheel horizontal-speed=3',
    'zone-plate kx2=20 ky2=20 kt=1',
    'colors horizontal-speed=6',
  ][index % 5]!;
}

/** The impaired stretch of an audio case; silence alternates digital and near silence. */
function impairedTones(impairment: Impairment, variant: number): Tone[] {
  switch (impairment) {
    case 'silence':
      return variant % 2 === 0 ? [] : [{ wave: 'pink-noise', levelDb: -72 }];
    case 'clipping':
      return [
        {
          wave: 'sine',
          freq: variant % 2 === 0 ? 440 : 220,
          levelDb: -3,
          overdrive: variant % 2 === 0 ? 8 : 3.2,
        },
      ];
    case 'noise':
      return [{ wave: 'white-noise', levelDb: -7 }];
    default:
      throw new RangeError(`${impairment} is not an audio impairment`);
  }
}

/** Cuts [0, totalSec) into before / impaired / after segments. */
function around<S extends { sec: number }>(
  totalSec: number,
  fromSec: number,
  toSec: number,
  good: (sec: number, part: 'before' | 'after') => S[],
  bad: (sec: number) => S,
): S[] {
  return [
    ...(fromSec > 0 ? good(fromSec, 'before') : []),
    bad(toSec - fromSec),
    ...(toSec < totalSec ? good(totalSec - toSec, 'after') : []),
  ];
}

/** Every impaired case: kind × duration × position, audio kinds in MP4 and MP3. */
export function impairedCases(durations: readonly number[] = DEFAULT_DURATIONS): ImpairedCase[] {
  const cases: ImpairedCase[] = [];
  let n = 0;
  for (const impairment of IMPAIRMENT_KINDS)
    for (const durationSec of durations)
      for (const position of POSITIONS) {
        const { fromSec, toSec, totalSec } = impairedRange(durationSec, position);
        const containers: Container[] = VIDEO_IMPAIRMENTS.includes(impairment)
          ? ['mp4']
          : ['mp4', 'mp3'];
        for (const container of containers) {
          const i = n++;
          const rnd = seededRandom(1000 + i);
          const source = backdrop(i);
          const voice = (sec: number) => speech(rnd, sec, { levelDb: -20, roomDb: -52 });
          const video = VIDEO_IMPAIRMENTS.includes(impairment)
            ? around<VideoSegment>(
                totalSec,
                fromSec,
                toSec,
                (sec) => [{ sec, source }],
                (sec) =>
                  impairment === 'black' ? { sec, source: 'black' } : { sec, source, still: true },
              )
            : [{ sec: totalSec, source }];
          const audio = VIDEO_IMPAIRMENTS.includes(impairment)
            ? voice(totalSec)
            : around<AudioSegment>(totalSec, fromSec, toSec, voice, (sec) => ({
                sec,
                tones: impairedTones(impairment, i),
              }));
          cases.push({
            name: `${impairment}-${durationSec}s-${position}-${container}`,
            impairment,
            durationSec,
            position,
            container,
            fromSec,
            toSec,
            timeline: { totalSec, video, audio },
          });
        }
      }
  return cases;
}

/**
 * Clean snippets as a show might produce them: moving pictures with the odd cut between them,
 * speech at a range of levels with short pauses, music, speech over music, and quiet speakers.
 */
export function cleanCases(count: number, seed = 7): CleanCase[] {
  const cases: CleanCase[] = [];
  for (let i = 0; i < count; i++) {
    const rnd = seededRandom(seed * 100_003 + i);
    const scenes = 1 + Math.floor(rnd() * 3);
    const video: VideoSegment[] = [];
    const sources: string[] = [];
    let left = SNIPPET_SEC;
    for (let s = 0; s < scenes; s++) {
      const sec = s === scenes - 1 ? left : Math.max(2, Math.round(rnd() * (left - 2)));
      const source = MOVING_SOURCES[(i + s * 5) % MOVING_SOURCES.length]!;
      video.push({ sec, source });
      sources.push(source.split(' ')[0]!);
      left -= sec;
      if (left <= 0) break;
    }
    const style = i % 6;
    let audio: AudioSegment[];
    let what: string;
    if (style <= 2) {
      const levelDb = -28 + rnd() * 14;
      const roomDb = -58 + rnd() * 14;
      audio = speech(rnd, SNIPPET_SEC, { levelDb, roomDb });
      what = `speech ${levelDb.toFixed(0)} dBFS, room ${roomDb.toFixed(0)} dBFS`;
    } else if (style === 3) {
      const levelDb = -24 + rnd() * 12;
      audio = music(rnd, SNIPPET_SEC, levelDb);
      what = `music ${levelDb.toFixed(0)} dBFS`;
    } else if (style === 4) {
      const levelDb = -22 + rnd() * 8;
      const bed = -34 + rnd() * 8;
      audio = speech(rnd, SNIPPET_SEC, { levelDb, roomDb: bed }).map((seg) => ({
        ...seg,
        tones: [...seg.tones, { wave: 'ticks', freq: 1000, levelDb: bed }],
      }));
      what = `speech ${levelDb.toFixed(0)} dBFS over ticks ${bed.toFixed(0)} dBFS`;
    } else {
      const levelDb = -44 + rnd() * 10;
      audio = speech(rnd, SNIPPET_SEC, { levelDb, roomDb: -62 + rnd() * 6 });
      what = `quiet speech ${levelDb.toFixed(0)} dBFS`;
    }
    cases.push({
      name: `clean-${String(i + 1).padStart(3, '0')}`,
      description: `${sources.join('+')}, ${what}`,
      timeline: { totalSec: SNIPPET_SEC, video, audio },
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Pure: launch descriptions.

/** RMS of audiotestsrc at volume 1, per wave; used to aim at a level in dBFS. */
const RMS_AT_FULL_VOLUME: Record<string, number> = {
  sine: Math.SQRT1_2,
  triangle: 1 / Math.sqrt(3),
  saw: 1 / Math.sqrt(3),
  square: 1,
  'white-noise': 1 / Math.sqrt(3),
  'pink-noise': 0.25,
  // A tick is 10 periods of a sine per second: its RMS over a second is a tenth of the sine's.
  ticks: Math.SQRT1_2 * Math.sqrt(0.01),
};

export function toneVolume(t: Tone): number {
  const rms = RMS_AT_FULL_VOLUME[t.wave] ?? Math.SQRT1_2;
  return Math.min(1, 10 ** (t.levelDb / 20) / rms);
}

/** Lengths in whole units (frames, buffers), rounded at the running total so they add up exactly. */
export function wholeUnits(secs: readonly number[], unitSec: number): number[] {
  const out: number[] = [];
  let at = 0;
  for (const sec of secs) {
    const from = Math.round(at / unitSec);
    at += sec;
    out.push(Math.round(at / unitSec) - from);
  }
  return out;
}

function videoCaps(p: OutputProfile): string {
  return `video/x-raw,format=I420,width=${p.video.width},height=${p.video.height},framerate=${p.video.fps}/1,pixel-aspect-ratio=1/1`;
}

const AUDIO_CAPS = `audio/x-raw,format=S16LE,layout=interleaved,rate=${RATE},channels=1`;

function toneSource(t: Tone | undefined, buffers: number, layer: number): string {
  const spb = Math.round(RATE * AUDIO_BUFFER_SEC);
  const tone = t ?? { wave: 'silence', levelDb: -120 };
  return (
    `audiotestsrc num-buffers=${buffers} samplesperbuffer=${spb} wave=${tone.wave} ` +
    `${tone.freq ? `freq=${tone.freq} ` : ''}volume=${toneVolume(tone).toFixed(6)} ! ${AUDIO_CAPS}` +
    `${tone.overdrive ? ` ! volume volume=${tone.overdrive}` : ''} ! layer${layer}.`
  );
}

/**
 * The audio as layers (the n-th tone of every segment), each a concat of plain sources, mixed at
 * the end. The mixer also makes one continuous stream of the concat's segments: an encoder fed
 * the segments directly leaves a gap of tens of milliseconds at every joint.
 */
function audioLayers(segments: readonly AudioSegment[]): string[] {
  const buffers = wholeUnits(
    segments.map((s) => s.sec),
    AUDIO_BUFFER_SEC,
  );
  const layers = Math.max(1, ...segments.map((s) => s.tones.length));
  const out = [`audiomixer name=amixin ! ${AUDIO_CAPS} ! audioconvert ! audioresample`];
  for (let l = 0; l < layers; l++) {
    out.push(`concat name=layer${l} ! amixin.`);
    segments.forEach((s, k) => out.push(toneSource(s.tones[l], buffers[k]!, l)));
  }
  return out;
}

/**
 * One gst-launch description that renders the timeline and cuts it into snippets like tapedeck:
 * the same encoders and the same splitmuxsink recorder, into `location` (with one %06d).
 */
export function launchDescription(
  timeline: Timeline,
  container: Container,
  location: string,
  p: OutputProfile = defaultProfile(DEFAULT_HOST_CANVAS),
): string {
  const [mixer, ...layers] = audioLayers(timeline.audio);
  if (container === 'mp3')
    return [
      `${mixer} ! ${mp3Encoder(p)}`,
      ...mp3Recorder(p, { location, startIndex: 0 }),
      ...layers,
    ].join(' ');
  const frames = wholeUnits(
    timeline.video.map((s) => s.sec),
    1 / p.video.fps,
  );
  const caps = videoCaps(p);
  const video = timeline.video.map((s, k) =>
    s.still
      ? `videotestsrc pattern=${s.source} num-buffers=1 ! ${caps} ! imagefreeze num-buffers=${frames[k]} ! ${caps} ! vc.`
      : `videotestsrc pattern=${s.source} num-buffers=${frames[k]} ! ${caps} ! vc.`,
  );
  return [
    `concat name=vc ! videoconvert ! ${videoEncoder(p)}`,
    `${mixer} ! ${aacEncoder(p)}`,
    ...mp4Recorder(p, { location, startIndex: 0 }),
    ...video,
    ...layers,
  ].join(' ');
}

// ---------------------------------------------------------------------------------------------
// Pure: matching and tables.

export interface SnippetResult {
  /** Index of the snippet on its timeline. */
  index: number;
  container: Container;
  reasons: QualityReason[];
  review: boolean;
  cpuSec: number;
  wallSec: number;
}

export interface CaseOutcome {
  name: string;
  impairment: Impairment;
  durationSec: number;
  position: Position;
  container: Container;
  detected: boolean;
  /** Reasons of other kinds in the snippets of the case. */
  others: string[];
}

/** Slack for where a reason is placed: a window either side. */
const PLACE_SLACK_SEC = 0.5;

/**
 * Detected when a snippet that holds part of the impairment is flagged with that impairment at
 * about that place.
 */
export function detection(
  c: Pick<ImpairedCase, 'impairment' | 'fromSec' | 'toSec'>,
  snippets: readonly Pick<SnippetResult, 'index' | 'reasons'>[],
  snippetSec = SNIPPET_SEC,
): { detected: boolean; others: string[] } {
  let detected = false;
  const others: string[] = [];
  for (const s of snippets) {
    const range = rangeInSnippet(c, s.index, snippetSec);
    for (const r of s.reasons) {
      const overlaps =
        range !== null &&
        r.fromSec < range.toSec + PLACE_SLACK_SEC &&
        r.toSec > range.fromSec - PLACE_SLACK_SEC;
      if (r.impairment === c.impairment && overlaps) detected = true;
      else others.push(`${s.index}:${describeReason(r)}`);
    }
  }
  return { detected, others };
}

export function describeReason(r: QualityReason): string {
  return `${r.impairment} ${r.fromSec.toFixed(1)}-${r.toSec.toFixed(1)} s`;
}

export function formatPercent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : 'n/a';
}

export function formatRate(part: number, whole: number): string {
  return `${part}/${whole}`;
}

/** A markdown table with padded columns, readable as plain text too. */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)]
    .join('\n')
    .concat('\n');
}

export interface DetectionRow {
  impairment: Impairment;
  durationSec: number;
  detected: number;
  total: number;
  missed: string[];
}

export function detectionRows(outcomes: readonly CaseOutcome[]): DetectionRow[] {
  const rows = new Map<string, DetectionRow>();
  for (const o of outcomes) {
    const key = `${o.impairment}/${o.durationSec}`;
    const row = rows.get(key) ?? {
      impairment: o.impairment,
      durationSec: o.durationSec,
      detected: 0,
      total: 0,
      missed: [],
    };
    row.total += 1;
    if (o.detected) row.detected += 1;
    else row.missed.push(`${o.position} ${o.container}`);
    rows.set(key, row);
  }
  const kindOrder = (k: Impairment) => IMPAIRMENT_KINDS.indexOf(k);
  return [...rows.values()].sort(
    (a, b) => kindOrder(a.impairment) - kindOrder(b.impairment) || a.durationSec - b.durationSec,
  );
}

export interface CleanOutcome {
  name: string;
  description: string;
  container: Container;
  review: boolean;
  reasons: QualityReason[];
}

export interface CostSummary {
  container: Container;
  snippets: number;
  cpuSecMean: number;
  cpuSecP95: number;
  /** CPU seconds per second of media: the share of one core that scoring every snippet takes. */
  coreShareMean: number;
  coreShareP95: number;
  wallSecMean: number;
  wallSecP95: number;
}

const mean = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

export function costSummary(
  container: Container,
  samples: readonly { cpuSec: number; wallSec: number }[],
  snippetSec = SNIPPET_SEC,
): CostSummary {
  const cpu = samples.map((s) => s.cpuSec);
  const wall = samples.map((s) => s.wallSec);
  return {
    container,
    snippets: samples.length,
    cpuSecMean: mean(cpu),
    cpuSecP95: percentile(cpu, 0.95),
    coreShareMean: mean(cpu) / snippetSec,
    coreShareP95: percentile(cpu, 0.95) / snippetSec,
    wallSecMean: mean(wall),
    wallSecP95: percentile(wall, 0.95),
  };
}

export interface ScoringBenchResult {
  impaired: CaseOutcome[];
  clean: CleanOutcome[];
  cost: CostSummary[];
  /** Clips whose generation failed even after retries, with why. */
  failed: { name: string; problem: string }[];
  /** Generation runs that had to be repeated (an encoder crash, say). */
  retries: { name: string; problem: string }[];
  generateSec: number;
  thresholds: QualityThresholds;
}

const CONTAINER_LABEL: Record<Container, string> = { mp4: 'MP4 (H.264 + AAC)', mp3: 'MP3' };

export function formatScoringReport(r: ScoringBenchResult): string {
  const rows = detectionRows(r.impaired);
  const found = r.impaired.filter((o) => o.detected).length;
  const detectionTable = markdownTable(
    ['impairment', 'duration', 'detected', 'rate', 'missed (position, container)'],
    [
      ...rows.map((row) => [
        row.impairment,
        `${row.durationSec} s`,
        formatRate(row.detected, row.total),
        formatPercent(row.detected, row.total),
        row.missed.join(', '),
      ]),
      [
        'all',
        '',
        formatRate(found, r.impaired.length),
        formatPercent(found, r.impaired.length),
        '',
      ],
    ],
  );
  const containers = (['mp4', 'mp3'] as const).filter((c) =>
    r.clean.some((o) => o.container === c),
  );
  const flagged = r.clean.filter((o) => o.review);
  const cleanTable = markdownTable(
    ['clean snippets', 'flagged', 'rate'],
    [
      ...containers.map((c) => {
        const all = r.clean.filter((o) => o.container === c);
        const bad = all.filter((o) => o.review).length;
        return [CONTAINER_LABEL[c], formatRate(bad, all.length), formatPercent(bad, all.length)];
      }),
      [
        'all',
        formatRate(flagged.length, r.clean.length),
        formatPercent(flagged.length, r.clean.length),
      ],
    ],
  );
  const costTable = markdownTable(
    [
      'snippets',
      'n',
      'CPU s mean',
      'CPU s p95',
      'core share mean',
      'core share p95',
      'wall s mean',
      'wall s p95',
    ],
    r.cost.map((c) => [
      CONTAINER_LABEL[c.container],
      String(c.snippets),
      c.cpuSecMean.toFixed(3),
      c.cpuSecP95.toFixed(3),
      `${(100 * c.coreShareMean).toFixed(2)} %`,
      `${(100 * c.coreShareP95).toFixed(2)} %`,
      c.wallSecMean.toFixed(3),
      c.wallSecP95.toFixed(3),
    ]),
  );
  const others = r.impaired.filter((o) => o.others.length);
  return [
    `Detection: an impairment counts when a snippet holding it is flagged with it, at its place. ` +
      `Target: every impairment of 3 s or more.`,
    '',
    detectionTable,
    `False positives on clean content (target: at most 2 %):`,
    '',
    cleanTable,
    ...(flagged.length
      ? [
          ...flagged.map(
            (o) =>
              `  ${o.name}.${o.container} (${o.description}): ${o.reasons.map(describeReason).join('; ')}`,
          ),
          '',
        ]
      : []),
    ...(others.length
      ? [
          `Other reasons in impaired cases (snippet:reason):`,
          ...others.map((o) => `  ${o.name}: ${o.others.join('; ')}`),
          '',
        ]
      : []),
    `Scoring cost per 15-s snippet: CPU (user+system) of the measuring process's decode and of the arithmetic here; ` +
      `core share = CPU s / 15 s, what scoring every snippet of one recording takes:`,
    '',
    costTable,
    ...(r.retries.length
      ? [`Generation runs repeated: ${r.retries.map((x) => `${x.name} (${x.problem})`).join('; ')}`]
      : []),
    ...(r.failed.length
      ? [`NOT GENERATED: ${r.failed.map((x) => `${x.name} (${x.problem})`).join('; ')}`]
      : []),
  ].join('\n');
}

export interface ScoringBenchJson {
  ok: boolean;
  detected: number;
  impaired: number;
  flagged: number;
  clean: number;
  rows: DetectionRow[];
  falsePositives: { name: string; container: Container; reasons: QualityReason[] }[];
  cost: CostSummary[];
  failed: { name: string; problem: string }[];
  retries: number;
}

/** ok: every impairment found, at most 2 % of clean snippets flagged, every clip made. */
export function toScoringJson(r: ScoringBenchResult): ScoringBenchJson {
  const detected = r.impaired.filter((o) => o.detected).length;
  const fps = r.clean.filter((o) => o.review);
  return {
    ok: detected === r.impaired.length && fps.length <= 0.02 * r.clean.length && !r.failed.length,
    detected,
    impaired: r.impaired.length,
    flagged: fps.length,
    clean: r.clean.length,
    rows: detectionRows(r.impaired),
    falsePositives: fps.map((o) => ({ name: o.name, container: o.container, reasons: o.reasons })),
    cost: r.cost,
    failed: r.failed,
    retries: r.retries.length,
  };
}

// ---------------------------------------------------------------------------------------------
// Running.

/** A run that took no CPU for this long is stuck: its streams ended but its EOS never came. */
const STALL_MS = 10_000;

/** CPU ticks a process has used so far, or null once it is gone. */
async function cpuTicks(pid: number): Promise<number | null> {
  try {
    const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
    return stat.utime + stat.stime;
  } catch {
    return null;
  }
}

/**
 * Runs gst-launch-1.0; resolves with null on success or the problem. Two faults of the elements
 * are met here now and then, on input that goes through on the next run: splitmuxsink sometimes
 * never posts EOS after its last snippet (the run then idles, so a run that took no CPU for
 * STALL_MS is ended), and a crashing element. gst-launch's own fault handler would leave a crashed
 * run spinning until the time limit; --no-fault lets it die at once.
 */
function launch(args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn('gst-launch-1.0', ['-q', '--no-fault', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    let killedFor: string | undefined;
    const kill = (why: string) => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-1000)));
    const timer = setTimeout(() => kill(`took longer than ${timeoutMs / 1000} s`), timeoutMs);
    let last: { ticks: number; at: number } | undefined;
    const watch = setInterval(() => {
      if (child.pid === undefined) return;
      void cpuTicks(child.pid).then((ticks) => {
        const now = performance.now();
        if (ticks === null) return;
        if (!last || ticks !== last.ticks) last = { ticks, at: now };
        else if (now - last.at >= STALL_MS) kill(`stalled: no CPU for ${STALL_MS / 1000} s`);
      });
    }, 1000);
    const done = (problem: string | null) => {
      clearTimeout(timer);
      clearInterval(watch);
      resolve(problem);
    };
    child.once('error', (e) => done(e.message));
    child.once('close', (code, signal) => {
      if (code === 0) done(null);
      else if (killedFor) done(killedFor);
      else if (signal) done(`gst-launch-1.0 died of ${signal}`);
      else
        done(
          err
            .trim()
            .split('\n')
            .find((l) => l.startsWith('ERROR')) ?? `exit code ${code}`,
        );
    });
  });
}

const GENERATE_ATTEMPTS = 5;

export interface ScoringBenchOptions {
  clean: number;
  durations?: readonly number[];
  /** Where clips are made; a temporary folder when absent. Removed afterwards unless keep. */
  workDir?: string;
  keep?: boolean;
  /** Clips made at once; measuring is always one at a time. */
  jobs?: number;
  thresholds?: QualityThresholds;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

interface Job {
  name: string;
  container: Container;
  timeline: Timeline;
  dir: string;
}

export async function runScoringBench(
  o: ScoringBenchOptions,
): Promise<ScoringBenchResult & { dir: string }> {
  const thresholds = o.thresholds ?? DEFAULT_QUALITY_THRESHOLDS;
  const progress = o.onProgress ?? (() => {});
  if (o.workDir) await mkdir(o.workDir, { recursive: true });
  const root = await mkdtemp(join(o.workDir ?? tmpdir(), 'tapedeck-scoring-'));
  const impaired = impairedCases(o.durations ?? DEFAULT_DURATIONS);
  const clean = cleanCases(o.clean);
  const jobs: Job[] = [
    ...impaired.map((c) => ({
      name: c.name,
      container: c.container,
      timeline: c.timeline,
      dir: join(root, c.name),
    })),
    ...clean.flatMap((c) =>
      (['mp4', 'mp3'] as const).map((container) => ({
        name: `${c.name}-${container}`,
        container,
        timeline: c.timeline,
        dir: join(root, `${c.name}-${container}`),
      })),
    ),
  ];
  const failed: ScoringBenchResult['failed'] = [];
  const retries: ScoringBenchResult['retries'] = [];
  const started = performance.now();
  try {
    let next = 0;
    let made = 0;
    const worker = async () => {
      for (let i = next++; i < jobs.length; i = next++) {
        if (o.signal?.aborted) throw new Error('stopped');
        const job = jobs[i]!;
        let problem: string | null = 'not tried';
        // A run that stalls or crashes (see launch) makes the clip on another try.
        for (let attempt = 0; attempt < GENERATE_ATTEMPTS && problem; attempt++) {
          await rm(job.dir, { recursive: true, force: true });
          await mkdir(job.dir);
          const location = join(job.dir, `s%06d.${job.container}`);
          problem = await launch(
            splitLaunchArgs(launchDescription(job.timeline, job.container, location)),
            120_000,
          );
          if (problem && attempt < GENERATE_ATTEMPTS - 1) retries.push({ name: job.name, problem });
        }
        if (problem) failed.push({ name: job.name, problem });
        progress(`made ${++made}/${jobs.length}: ${job.name}`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.jobs ?? 2) }, worker));
    const generateSec = (performance.now() - started) / 1000;

    const costs: Record<Container, { cpuSec: number; wallSec: number }[]> = { mp4: [], mp3: [] };
    const scoreDir = async (job: Job): Promise<SnippetResult[]> => {
      if (failed.some((f) => f.name === job.name)) return [];
      const files = (await readdir(job.dir)).filter((f) => f.endsWith(`.${job.container}`)).sort();
      const out: SnippetResult[] = [];
      for (const [index, f] of files.entries()) {
        if (o.signal?.aborted) throw new Error('stopped');
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const { audio, video, decodeCpuSec } = await scoreSnippet(join(job.dir, f), {
          hasVideo: job.container === 'mp4',
          thresholds,
        });
        const wallSec = (performance.now() - t0) / 1000;
        // Snippets are scored one at a time, so this process's CPU meanwhile is this snippet's.
        const own = process.cpuUsage(cpu0);
        const cpuSec = decodeCpuSec + (own.user + own.system) / 1e6;
        costs[job.container].push({ cpuSec, wallSec });
        out.push({
          index,
          container: job.container,
          reasons: [...audio.reasons, ...(video?.reasons ?? [])],
          review: needsReview({ audio, video }, thresholds),
          cpuSec,
          wallSec,
        });
      }
      return out;
    };

    const impairedOut: CaseOutcome[] = [];
    for (const [i, c] of impaired.entries()) {
      progress(`scoring impaired ${i + 1}/${impaired.length}: ${c.name}`);
      const snippets = await scoreDir(jobs[i]!);
      if (!snippets.length) continue;
      impairedOut.push({
        name: c.name,
        impairment: c.impairment,
        durationSec: c.durationSec,
        position: c.position,
        container: c.container,
        ...detection(c, snippets),
      });
    }
    const cleanOut: CleanOutcome[] = [];
    for (const [k, job] of jobs.slice(impaired.length).entries()) {
      const c = clean[Math.floor(k / 2)]!;
      progress(`scoring clean ${k + 1}/${jobs.length - impaired.length}: ${job.name}`);
      for (const s of await scoreDir(job))
        cleanOut.push({
          name: c.name,
          description: c.description,
          container: job.container,
          review: s.review,
          reasons: s.reasons,
        });
    }
    return {
      dir: root,
      impaired: impairedOut,
      clean: cleanOut,
      cost: (['mp4', 'mp3'] as const)
        .filter((c) => costs[c].length)
        .map((c) => costSummary(c, costs[c])),
      failed,
      retries,
      generateSec,
      thresholds,
    };
  } finally {
    if (!o.keep) await rm(root, { recursive: true, force: true });
  }
}
