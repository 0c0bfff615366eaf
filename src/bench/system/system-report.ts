/** What `tapedeck bench system` prints and returns: pure functions over the measured rounds. */
import { table } from '../compare.ts';
import { median, spread, type Spread } from '../stats.ts';
import type { FfmpegRound } from './ffmpeg-contender.ts';
import { totalsByRole, type ProcessRow, type RoleTotal } from './process-table.ts';
import { arrivalTotals, largestHolding } from './recording-figures.ts';
import type { TapedeckRound } from './tapedeck-round.ts';

export const TARGET_LIVESTREAMS = 3;

export interface CpuPerLivestream {
  /** The whole node: ingest, API, Temporal server and workers, media, delivery, scoring. */
  tapedeckPct: number;
  /** Its media worker processes only. */
  tapedeckMediaPct: number;
  /** The ffmpeg recorders only. */
  ffmpegPct: number;
  /** The ffmpeg recorders and the node process whose ingest feeds them. */
  ffmpegWithIngestPct: number;
}

export interface SystemResult {
  rounds: RoundJson[];
  /** The most livestreams that held real time; 0 when none did. */
  largestLivestreams: number;
  ffmpeg: FfmpegJson | null;
  /** The medians over `comparison`'s pairs (one pair: its figures), which the target is judged on. */
  cpuPerLivestream: CpuPerLivestream | null;
  /** Every comparison of tapedeck and ffmpeg at one count, in the order run. */
  comparison: CpuPerLivestream[];
  /** The rounds of the comparisons after the first (`--rounds`), at ffmpeg's count. */
  repeats: Repeats;
  targets: { name: string; met: boolean; detail: string }[];
}

/** Further rounds at the comparison's count, paired in order: tapedeck[i] with ffmpeg[i]. */
export interface Repeats {
  tapedeck: RoundJson[];
  ffmpeg: FfmpegJson[];
}

export interface RoundJson {
  livestreams: number;
  recordings: number;
  holds: boolean;
  problems: string[];
  snippets: { expected: number; delivered: number; late: number };
  droppedFrames: number;
  expectedFrames: number;
  /**
   * RTP packets that reached the ingest, and that the publishers sent but never did; and how much
   * later than its RTP time the worst host's sound reached it (ms).
   */
  ingest: { packets: number; lost: number; soundLateWorstMs: number };
  latencySec: Spread;
  realTimeFactor: { min: number | null; each: Record<string, number | null> };
  reviews: number;
  /** The node's event loop from publish to the window's end: it forwards the hosts' RTP. */
  eventLoopDelayMs: { p99: number; max: number; stallsOver300: number };
  processes: ProcessRow[];
  byRole: RoleTotal[];
}

export interface FfmpegJson {
  livestreams: number;
  recorders: number;
  segments: number;
  /** Nothing lost on the way in or at the recorders, no recorder ended early. */
  holds: boolean;
  problems: string[];
  ingest: { packets: number; lost: number };
  /** RTP the recorders said they never got in the window, of about how many sent to them. */
  recorderRtp: { forwarded: number; missed: number; missedBeforeWindow?: number };
  processes: ProcessRow[];
  byRole: RoleTotal[];
}

const cpuOf = (rows: readonly ProcessRow[], pick: (r: ProcessRow) => boolean) =>
  rows.filter(pick).reduce((n, r) => n + r.cpuPct, 0);

/** Processes that did something, and one row for the helpers (shells, sleeps, short tools). */
export function compactRows(rows: readonly ProcessRow[]): ProcessRow[] {
  const minor = (r: ProcessRow) =>
    r.role === 'other' || (r.role === 'GStreamer tool' && r.cpuPct < 0.1);
  const rest = rows.filter(minor);
  const kept = rows.filter((r) => !minor(r)).sort((a, b) => b.cpuPct - a.cpuPct);
  if (rest.length === 0) return kept;
  const sum = (f: (r: ProcessRow) => number) => rest.reduce((n, r) => n + f(r), 0);
  return [
    ...kept,
    {
      pid: 0,
      role: 'other',
      command: `${rest.length} helpers (shells, sleeps, short tools)`,
      cpuPct: sum((r) => r.cpuPct),
      peakRssMiB: sum((r) => r.peakRssMiB),
      lastRssMiB: sum((r) => r.lastRssMiB),
    },
  ];
}

export function roundJson(r: TapedeckRound): RoundJson {
  const rtf = r.recordings.map((x) => x.realTimeFactor).filter((x): x is number => x !== null);
  return {
    livestreams: r.livestreams,
    recordings: r.recordings.length,
    holds: r.holds,
    problems: r.problems,
    snippets: r.snippets,
    droppedFrames: r.droppedFrames,
    expectedFrames: r.expectedFrames,
    ingest: arrivalTotals(r.arrivals),
    latencySec: spread(r.latenciesSec),
    realTimeFactor: {
      min: rtf.length ? Math.min(...rtf) : null,
      each: Object.fromEntries(
        r.recordings.map((x) => [`${x.livestreamId}/${x.track}`, x.realTimeFactor]),
      ),
    },
    reviews: r.reviews,
    eventLoopDelayMs: {
      p99: round1(r.loopDelay.p99Ms),
      max: round1(r.loopDelay.maxMs),
      stallsOver300: r.loopDelay.stalls.length,
    },
    processes: compactRows(r.rows),
    byRole: totalsByRole(r.rows),
  };
}

export function ffmpegJson(f: FfmpegRound): FfmpegJson {
  return {
    livestreams: f.livestreams,
    recorders: f.recorders,
    segments: f.segments,
    holds: f.holds,
    problems: f.problems,
    ingest: arrivalTotals(f.arrivals),
    recorderRtp: f.recorderRtp,
    processes: compactRows(f.rows),
    byRole: totalsByRole(f.rows),
  };
}

/** CPU per livestream of tapedeck's round with as many livestreams as the ffmpeg round had. */
export function cpuPerLivestream(t: RoundJson, f: FfmpegJson): CpuPerLivestream {
  const k = t.livestreams;
  return {
    tapedeckPct: cpuOf(t.processes, () => true) / k,
    tapedeckMediaPct:
      cpuOf(t.processes, (r) => r.role === 'media worker' || r.role === 'shared decoder') / k,
    ffmpegPct: cpuOf(f.processes, (r) => r.role === 'ffmpeg') / f.livestreams,
    ffmpegWithIngestPct:
      cpuOf(f.processes, (r) => r.role === 'ffmpeg' || r.role === 'node') / f.livestreams,
  };
}

/** Each figure's median over the comparisons. */
export function medianCpu(pairs: readonly CpuPerLivestream[]): CpuPerLivestream {
  const m = (pick: (c: CpuPerLivestream) => number) => median(pairs.map(pick));
  return {
    tapedeckPct: m((c) => c.tapedeckPct),
    tapedeckMediaPct: m((c) => c.tapedeckMediaPct),
    ffmpegPct: m((c) => c.ffmpegPct),
    ffmpegWithIngestPct: m((c) => c.ffmpegWithIngestPct),
  };
}

export function systemResult(
  rounds: RoundJson[],
  ffmpeg: FfmpegJson | null,
  repeats: Repeats = { tapedeck: [], ffmpeg: [] },
): SystemResult {
  const largest = largestHolding(rounds);
  const compared = ffmpeg && rounds.find((r) => r.livestreams === ffmpeg.livestreams);
  const comparison = compared ? [cpuPerLivestream(compared, ffmpeg)] : [];
  repeats.tapedeck.forEach((t, i) => {
    const f = repeats.ffmpeg[i];
    if (f) comparison.push(cpuPerLivestream(t, f));
  });
  const cpu = comparison.length ? medianCpu(comparison) : null;
  const targets = [
    {
      name: `at least ${TARGET_LIVESTREAMS} livestreams at real time, no late snippet`,
      met: largest >= TARGET_LIVESTREAMS,
      detail: `${largest} held`,
    },
  ];
  if (cpu)
    targets.push({
      name: 'CPU per livestream below the ffmpeg-based recorder',
      met: cpu.tapedeckPct < cpu.ffmpegWithIngestPct,
      detail:
        `${cpu.tapedeckPct.toFixed(1)} % against ${cpu.ffmpegWithIngestPct.toFixed(1)} % (media alone ${cpu.tapedeckMediaPct.toFixed(1)} % against ${cpu.ffmpegPct.toFixed(1)} %)` +
        (comparison.length > 1 ? `, medians of ${comparison.length} comparisons` : ''),
    });
  return {
    rounds,
    largestLivestreams: largest,
    ffmpeg,
    cpuPerLivestream: cpu,
    comparison,
    repeats,
    targets,
  };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

/** Rows as compactRows leaves them. */
function processTable(rows: readonly ProcessRow[]): string {
  return table(
    ['process', 'pid', 'CPU % core', 'peak RSS MiB'],
    rows.map((r) => [
      r.pid === 0 && r.role === 'other' ? r.command : r.role,
      r.pid ? String(r.pid) : '-',
      f1(r.cpuPct),
      f1(r.peakRssMiB),
    ]),
    [false, true, true, true],
  );
}

function roleTable(byRole: readonly RoleTotal[]): string {
  const total = byRole.reduce((n, r) => n + r.cpuPct, 0);
  return table(
    ['by role', 'processes', 'CPU % core', 'peak RSS MiB'],
    [
      ...byRole.map((r) => [r.role, String(r.processes), f1(r.cpuPct), f1(r.peakRssMiB)]),
      ['all', String(byRole.reduce((n, r) => n + r.processes, 0)), f1(total), ''],
    ],
    [false, true, true, true],
  );
}

export function formatRound(r: RoundJson, round: TapedeckRound): string {
  const recs = table(
    ['recording', 'snippets', 'late', 'dropped frames', 'real-time factor', 'latency p50/p99 s'],
    round.recordings.map((x) => [
      `${x.livestreamId}/${x.track}`,
      `${x.delivered}/${x.expected}`,
      String(x.late),
      `${x.droppedFrames}/${x.expectedFrames}`,
      x.realTimeFactor === null ? 'n/a' : x.realTimeFactor.toFixed(3),
      `${f2(x.latencySec.p50)}/${f2(x.latencySec.p99)}`,
    ]),
    [false, true, true, true, true, true],
  );
  return [
    `== ${r.livestreams} livestream(s), ${r.recordings} recordings: ${r.holds ? 'holds real time' : 'does NOT hold real time'}`,
    ...r.problems.map((p) => `   ${p}`),
    `snippets ${r.snippets.delivered} delivered of ${r.snippets.expected} expected, ${r.snippets.late} late; ` +
      `dropped frames ${r.droppedFrames} of ${r.expectedFrames}; RTP lost on the way in ${r.ingest.lost} of ${r.ingest.packets + r.ingest.lost}; availability latency p50 ${f2(r.latencySec.p50)} s, p99 ${f2(r.latencySec.p99)} s, max ${f2(r.latencySec.max)} s; reviews ${r.reviews}`,
    `the node's event loop (it forwards the hosts' RTP): delay p99 ${r.eventLoopDelayMs.p99} ms, max ${r.eventLoopDelayMs.max} ms, ${r.eventLoopDelayMs.stallsOver300} stall(s) over 300 ms; ` +
      `the hosts' sound reached the ingest up to ${r.ingest.soundLateWorstMs} ms behind its RTP time`,
    '',
    recs,
    '',
    processTable(r.processes),
    '',
    roleTable(r.byRole),
    '',
  ].join('\n');
}

export function formatFfmpeg(f: FfmpegJson): string {
  return [
    `== ffmpeg-based recorder: ${f.livestreams} livestream(s), ${f.recorders} ffmpeg processes fed by the same ingest, ${f.segments} segments written`,
    `   holds real time: ${f.holds ? 'yes' : 'NO'}; RTP lost on the way in ${f.ingest.lost} of ${f.ingest.packets + f.ingest.lost}, ` +
      `missed by the recorders ${f.recorderRtp.missed} of about ${f.recorderRtp.forwarded} in the window` +
      (f.recorderRtp.missedBeforeWindow
        ? ` (${f.recorderRtp.missedBeforeWindow} before it, while they started)`
        : ''),
    ...f.problems.map((p) => `   ${p}`),
    '',
    roleTable(f.byRole),
    '',
  ].join('\n');
}

export function formatSummary(s: SystemResult): string {
  const lines = [
    '== summary',
    `largest number of 4-host livestreams at real time: ${s.largestLivestreams} ` +
      `(tried ${s.rounds.map((r) => `${r.livestreams}${r.holds ? ' held' : ' did not'}`).join(', ')})`,
  ];
  if (s.ffmpeg)
    lines.push(
      `the ffmpeg-based recorder at ${s.ffmpeg.livestreams} livestream(s): ${s.ffmpeg.holds ? 'held' : 'did not hold'} real time`,
    );
  const held = (n: number, of: number) => `${n} of ${of} held`;
  if (s.repeats.tapedeck.length)
    lines.push(
      `repeated rounds at ${s.repeats.tapedeck[0]!.livestreams} livestream(s): tapedeck ` +
        held(s.repeats.tapedeck.filter((r) => r.holds).length, s.repeats.tapedeck.length) +
        `, ffmpeg ${held(s.repeats.ffmpeg.filter((r) => r.holds).length, s.repeats.ffmpeg.length)}`,
    );
  const ratio = (c: CpuPerLivestream) =>
    c.ffmpegWithIngestPct > 0 ? `${(c.tapedeckPct / c.ffmpegWithIngestPct).toFixed(2)}x` : 'n/a';
  if (s.cpuPerLivestream) {
    const c = s.cpuPerLivestream;
    const many = s.comparison.length > 1;
    // With several comparisons, each figure's rounds follow its median, in the order run.
    const each = (pick: (x: CpuPerLivestream) => number) =>
      many ? ` [${s.comparison.map((x) => f1(pick(x))).join(', ')}]` : '';
    lines.push(
      `CPU per livestream, % of one core${many ? `, median of ${s.comparison.length} alternated comparisons` : ''}: ` +
        `tapedeck ${f1(c.tapedeckPct)}${each((x) => x.tapedeckPct)} (media workers ${f1(c.tapedeckMediaPct)}${each((x) => x.tapedeckMediaPct)}); ` +
        `ffmpeg ${f1(c.ffmpegWithIngestPct)}${each((x) => x.ffmpegWithIngestPct)} with the ingest (recorders alone ${f1(c.ffmpegPct)}${each((x) => x.ffmpegPct)}); ` +
        `ratio ${ratio(c)}${many ? ` [${s.comparison.map(ratio).join(', ')}]` : ''}`,
    );
  }
  for (const t of s.targets)
    lines.push(`target: ${t.name}: ${t.met ? 'met' : 'MISSED'} (${t.detail})`);
  return `${lines.join('\n')}\n`;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
