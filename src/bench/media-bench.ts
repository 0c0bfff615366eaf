/**
 * The media benchmark behind `tapedeck bench media`: for each recording kind, tapedeck's media
 * worker, the same pipeline under gst-launch-1.0 and an equivalent ffmpeg recorder run one after
 * another on the same synthetic inputs and output settings, each under a process-tree watcher.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import {
  defaultProfile,
  gopFrames,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../domain/profile.ts';
import { MediaWorker } from '../media/media-worker.ts';
import { buildPipeline } from '../media/pipeline/build.ts';
import { snippetExtension, type RecordingSpec } from '../media/pipeline/spec.ts';
import { syntheticHost } from '../media/synthetic-recording.ts';
import {
  formatComparison,
  measureContender,
  type ContenderResult,
  type StartedContender,
} from './compare.ts';
import { runFfmpegRecorder, type FfmpegRecorderSpec } from './ffmpeg-recorder.ts';
import { formatRounds, medianRows, roundOrder } from './media-rounds.ts';
import {
  OTHER_LOAD_WARNING,
  otherCpuShare,
  sampleMachine,
  type MachineSample,
} from './machine-load.ts';
import { watchProcessTree } from './process-usage.ts';

export type BenchKind = 'composite' | 'host' | 'audio';
export const BENCH_KINDS: readonly BenchKind[] = ['composite', 'host', 'audio'];
export type BenchPattern = 'bars' | 'noise';
export const BENCH_PATTERNS: readonly BenchPattern[] = ['bars', 'noise'];
export type ContenderName = 'tapedeck' | 'gst-launch' | 'ffmpeg';
export const CONTENDER_NAMES: readonly ContenderName[] = ['tapedeck', 'gst-launch', 'ffmpeg'];
export const BASELINE: ContenderName = 'tapedeck';

/** Inputs per kind: the composite mixes four hosts, the others record one. */
export const BENCH_INPUTS: Record<BenchKind, number> = { composite: 4, host: 1, audio: 1 };

/** How long a contender gets to finish its last snippet after the stop request. */
const STOP_GRACE_MS = 30_000;

/**
 * Splits a gst-launch description into argv tokens for gst-launch-1.0.
 *
 * gst-launch-1.0 joins its argv with spaces and parses the result again, but first it escapes
 * (with a backslash) every space that is outside double quotes in an argument. So the whole
 * description as ONE argument fails ("syntax error"), and tokens must never hold a space outside
 * quotes. This splitter tracks quotes exactly like that escaping does (a '"' toggles, except a
 * '\"' inside quotes), so quoted values such as font-desc="Sans Bold 28" or a text with a newline
 * stay one token, and tokens joined with one space give back the description, with runs of
 * whitespace outside quotes shortened to one space.
 */
export function splitLaunchArgs(description: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inQuotes = false;
  for (let i = 0; i < description.length; i++) {
    const c = description[i]!;
    if (c === '"' && (!inQuotes || description[i - 1] !== '\\')) inQuotes = !inQuotes;
    if (!inQuotes && /\s/.test(c)) {
      if (current) tokens.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (inQuotes) throw new Error(`unbalanced quotes in launch description: ${current.slice(0, 80)}`);
  if (current) tokens.push(current);
  return tokens;
}

/** Parses "composite,host" into kinds in their canonical order; throws RangeError on a bad one. */
export function parseKinds(text: string): BenchKind[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new RangeError('no kind given');
  for (const p of parts)
    if (!BENCH_KINDS.includes(p as BenchKind))
      throw new RangeError(`unknown kind "${p}" (use ${BENCH_KINDS.join(', ')})`);
  return BENCH_KINDS.filter((k) => parts.includes(k));
}

export interface BenchSpecs {
  recording: RecordingSpec;
  ffmpeg: FfmpegRecorderSpec;
}

/**
 * The tapedeck spec of one kind and the ffmpeg recorder spec with the same settings, derived from
 * one profile: canvas, fps, bitrates, GOP and snippet length match by construction.
 */
export function benchSpecs(
  kind: BenchKind,
  pattern: BenchPattern,
  dirs: { tapedeck: string; ffmpeg: string },
  durationSec: number,
): BenchSpecs {
  const canvas = kind === 'composite' ? DEFAULT_COMPOSITE_CANVAS : DEFAULT_HOST_CANVAS;
  const profile = defaultProfile(canvas);
  const inputs = BENCH_INPUTS[kind];
  const recording: RecordingSpec = {
    kind,
    recordingId: kind,
    outDir: dirs.tapedeck,
    profile,
    inputs: Array.from({ length: inputs }, (_, i) => syntheticHost(i + 1, pattern)),
  };
  const ffmpeg: FfmpegRecorderSpec = {
    kind,
    inputs,
    // A backstop only: the benchmark stops ffmpeg with SIGINT after durationSec.
    durationSec: durationSec + 60,
    outDir: dirs.ffmpeg,
    canvas: { width: profile.video.width, height: profile.video.height },
    fps: profile.video.fps,
    gopFrames: gopFrames(profile.video),
    videoKbps: profile.video.bitrateKbps,
    preset: profile.video.preset,
    audioKbps: profile.audio.bitrateKbps,
    audioChannels: profile.audio.channels,
    snippetSec: profile.snippetSeconds,
  };
  return { recording, ffmpeg };
}

export interface BenchRow extends ContenderResult {
  kind: BenchKind;
  contender: ContenderName;
  /** Which round of --rounds, from 1; 0 for a median over the rounds. */
  round: number;
  /** At least one non-empty snippet file and no failure. */
  ok: boolean;
  /** Why the row failed (or what went wrong without failing it). */
  problem?: string;
  snippets: number;
  /** Duration of each snippet by ffprobe, in file order (NaN when it cannot be probed). */
  snippetSeconds: number[];
  /**
   * CPU share of one core from the end of the warm-up (see warmupSec) to the stop: the running
   * cost without start-up. NaN when the contender did not run past the warm-up.
   */
  steadyCpuShareOfCore: number;
  /**
   * CPU used meanwhile by every other process on the machine (this CLI left out), as a share of
   * one core: other work competing for the cores makes the figures less reliable.
   */
  otherCpuShareOfCore: number;
}

/** Seconds left out of the steady CPU figure: a quarter of the run, at most 10 s. */
export function warmupSec(durationSec: number): number {
  return Math.min(10, durationSec / 4);
}

/** The label a row has in the table: FAILED rows say so. */
export function rowLabel(row: Pick<BenchRow, 'contender' | 'ok'>): string {
  return row.ok ? row.contender : `${row.contender} FAILED`;
}

export type TargetMetric = 'cpu' | 'rss' | 'cpu-vs-gst-launch' | 'cpu-vs-ffmpeg';

export interface Target {
  metric: TargetMetric;
  /** cpu: share of one core; rss: MiB; ratios: tapedeck / other (below "limit" for "<"). */
  limit: number;
  comparison: '<=' | '<';
  label: string;
}

export interface TargetResult extends Target {
  value: number | undefined;
  /** n/a when a contender it needs failed. */
  status: 'met' | 'missed' | 'n/a';
}

/** Targets are printed beside the figures, never enforced. */
export function targetsFor(kind: BenchKind): Target[] {
  const targets: Target[] = [];
  if (kind === 'composite')
    targets.push(
      { metric: 'cpu', limit: 0.2, comparison: '<=', label: 'tapedeck CPU <= 20 % of a core' },
      { metric: 'rss', limit: 150, comparison: '<=', label: 'tapedeck peak RSS <= 150 MiB' },
    );
  if (kind === 'host')
    targets.push({
      metric: 'cpu',
      limit: 0.09,
      comparison: '<=',
      label: 'tapedeck CPU <= 9 % of a core',
    });
  targets.push(
    {
      metric: 'cpu-vs-gst-launch',
      limit: 1.15,
      comparison: '<=',
      label: 'tapedeck/gst-launch CPU <= 1.15x',
    },
    { metric: 'cpu-vs-ffmpeg', limit: 1, comparison: '<', label: 'tapedeck CPU below ffmpeg' },
  );
  return targets;
}

/** Evaluates a kind's targets against its rows (all of one kind). */
export function evaluateTargets(kind: BenchKind, rows: BenchRow[]): TargetResult[] {
  const find = (name: ContenderName) => rows.find((r) => r.kind === kind && r.contender === name);
  const tapedeck = find('tapedeck');
  return targetsFor(kind).map((target) => {
    let value: number | undefined;
    if (tapedeck?.ok) {
      if (target.metric === 'cpu') value = tapedeck.cpuShareOfCore;
      else if (target.metric === 'rss') value = tapedeck.peakRssMiB;
      else {
        const other = find(target.metric === 'cpu-vs-gst-launch' ? 'gst-launch' : 'ffmpeg');
        if (other?.ok && other.cpuShareOfCore > 0)
          value = tapedeck.cpuShareOfCore / other.cpuShareOfCore;
      }
    }
    const status: TargetResult['status'] =
      value === undefined
        ? 'n/a'
        : (target.comparison === '<=' ? value <= target.limit : value < target.limit)
          ? 'met'
          : 'missed';
    return { ...target, value, status };
  });
}

/** A target's measured value as [number, unit]. */
function formatTargetValue(t: TargetResult): [string, string] {
  if (t.value === undefined) return ['-', ''];
  if (t.metric === 'cpu') return [(t.value * 100).toFixed(1), '%'];
  if (t.metric === 'rss') return [t.value.toFixed(1), 'MiB'];
  return [t.value.toFixed(2), 'x'];
}

/** The targets block printed under a kind's table: label, measured value, met/missed/n/a. */
export function formatTargets(results: TargetResult[]): string {
  const values = results.map(formatTargetValue);
  const width = Math.max(...results.map((r) => r.label.length));
  const numberWidth = Math.max(...values.map(([n]) => n.length));
  const unitWidth = Math.max(...values.map(([, u]) => u.length));
  return (
    'targets (reported, not enforced):\n' +
    results
      .map((r, i) => {
        const [n, u] = values[i]!;
        return `  ${r.label.padEnd(width)}  ${n.padStart(numberWidth)} ${u.padEnd(unitWidth)}  ${r.status}`;
      })
      .join('\n') +
    '\n'
  );
}

/** Snippet count and durations of each row, one line per contender. */
export function formatSnippets(rows: BenchRow[]): string {
  const width = Math.max(...rows.map((r) => r.contender.length));
  return (
    'snippets:\n' +
    rows
      .map((r) => {
        const durations = r.snippetSeconds.length
          ? ` (${r.snippetSeconds.map((s) => (Number.isFinite(s) ? s.toFixed(2) : '?')).join(', ')} s)`
          : '';
        const problem = r.problem ? ` — ${r.problem}` : '';
        return `  ${r.contender.padEnd(width)}  ${r.snippets}${durations}${problem}`;
      })
      .join('\n') +
    '\n'
  );
}

/** Everything printed for one kind: the comparison table, snippets and targets. */
export function formatKindReport(kind: BenchKind, rows: BenchRow[], durationSec: number): string {
  const all = rows.filter((r) => r.kind === kind);
  const rounds = new Set(all.map((r) => r.round)).size;
  // Several rounds are judged by their medians; every round's CPU is listed under them.
  const own = rounds > 1 ? medianRows(all) : all;
  const baseline = own.find((r) => r.contender === BASELINE);
  const table = formatComparison(
    own.map((r) => ({ ...pickUsage(r), name: rowLabel(r) })),
    baseline ? rowLabel(baseline) : rowLabel(own[0]!),
  );
  return (
    `== ${kind} (${BENCH_INPUTS[kind]} input${BENCH_INPUTS[kind] === 1 ? '' : 's'}, ${durationSec} s each` +
    `${rounds > 1 ? `, median of ${rounds} rounds` : ''}) ==\n` +
    `${table}\n${formatSteady(own, durationSec)}${formatOtherLoad(own)}` +
    `${rounds > 1 ? formatRounds(all) : ''}\n${formatSnippets(own)}\n` +
    formatTargets(evaluateTargets(kind, own))
  );
}

/** The steady CPU figures (start-up left out) of one kind's rows, with tapedeck's ratios. */
export function formatSteady(rows: BenchRow[], durationSec: number): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : 'n/a');
  const tapedeck = rows.find((r) => r.contender === BASELINE);
  const ratios = rows
    .filter((r) => r !== tapedeck)
    .map((r) => {
      const q = (tapedeck?.steadyCpuShareOfCore ?? Number.NaN) / r.steadyCpuShareOfCore;
      return `${BASELINE}/${r.contender} ${Number.isFinite(q) ? `${q.toFixed(2)}x` : 'n/a'}`;
    });
  return (
    `steady CPU % of core, without the first ${+warmupSec(durationSec).toFixed(1)} s: ` +
    rows.map((r) => `${r.contender} ${pct(r.steadyCpuShareOfCore)}`).join(', ') +
    (ratios.length ? `\n  ratios: ${ratios.join(', ')}` : '') +
    '\n'
  );
}

/** How busy the rest of the machine was during each contender's run. */
export function formatOtherLoad(rows: BenchRow[]): string {
  const busy = rows.some((r) => r.otherCpuShareOfCore > OTHER_LOAD_WARNING);
  return (
    'other processes meanwhile, % of a core: ' +
    rows
      .map(
        (r) =>
          `${r.contender} ${Number.isFinite(r.otherCpuShareOfCore) ? (r.otherCpuShareOfCore * 100).toFixed(1) : 'n/a'}`,
      )
      .join(', ') +
    (busy ? '\n  WARNING: other work competed for the cores; the figures are less reliable' : '') +
    '\n'
  );
}

function pickUsage(r: ContenderResult): ContenderResult {
  return {
    name: r.name,
    wallSec: r.wallSec,
    cpuSec: r.cpuSec,
    cpuShareOfCore: r.cpuShareOfCore,
    peakRssMiB: r.peakRssMiB,
  };
}

export interface BenchJson {
  durationSec: number;
  pattern: BenchPattern;
  /** How many times each contender ran; targets are judged by the medians when above 1. */
  rounds: number;
  ok: boolean;
  rows: {
    kind: BenchKind;
    contender: ContenderName;
    round: number;
    ok: boolean;
    problem?: string;
    wallSec: number;
    cpuSec: number;
    cpuShareOfCore: number;
    steadyCpuShareOfCore: number | null;
    otherCpuShareOfCore: number | null;
    peakRssMiB: number;
    snippets: number;
    snippetSeconds: (number | null)[];
  }[];
  targets: {
    kind: BenchKind;
    metric: TargetMetric;
    label: string;
    limit: number;
    value: number | null;
    status: TargetResult['status'];
  }[];
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** The --json document: rows and evaluated targets, numbers rounded, NaN as null. */
export function toBenchJson(
  rows: BenchRow[],
  meta: { durationSec: number; pattern: BenchPattern },
): BenchJson {
  const kinds = BENCH_KINDS.filter((k) => rows.some((r) => r.kind === k));
  const rounds = new Set(rows.map((r) => r.round)).size;
  const judged = rounds > 1 ? medianRows(rows) : rows;
  return {
    durationSec: meta.durationSec,
    pattern: meta.pattern,
    rounds,
    ok: rows.every((r) => r.ok),
    rows: rows.map((r) => ({
      kind: r.kind,
      contender: r.contender,
      round: r.round,
      ok: r.ok,
      ...(r.problem ? { problem: r.problem } : {}),
      wallSec: round(r.wallSec, 3),
      cpuSec: round(r.cpuSec, 3),
      cpuShareOfCore: round(r.cpuShareOfCore, 4),
      steadyCpuShareOfCore: Number.isFinite(r.steadyCpuShareOfCore)
        ? round(r.steadyCpuShareOfCore, 4)
        : null,
      otherCpuShareOfCore: Number.isFinite(r.otherCpuShareOfCore)
        ? round(r.otherCpuShareOfCore, 4)
        : null,
      peakRssMiB: round(r.peakRssMiB, 1),
      snippets: r.snippets,
      snippetSeconds: r.snippetSeconds.map((s) => (Number.isFinite(s) ? round(s, 3) : null)),
    })),
    targets: kinds.flatMap((kind) =>
      evaluateTargets(kind, judged).map((t) => ({
        kind,
        metric: t.metric,
        label: t.label,
        limit: t.limit,
        value: t.value === undefined ? null : round(t.value, 4),
        status: t.status,
      })),
    ),
  };
}

/** Snippet files (non-empty, with the extension) in dir, sorted by name. */
export async function listSnippets(dir: string, extension: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files: string[] = [];
  for (const name of names.filter((n) => n.endsWith(`.${extension}`)).sort()) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st?.isFile() && st.size > 0) files.push(join(dir, name));
  }
  return files;
}

const execFileAsync = promisify(execFile);

/** Container duration by ffprobe; NaN when ffprobe is missing or the file unreadable. */
export async function probeDurationSec(file: string): Promise<number> {
  try {
    const { stdout } = await execFileAsync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file],
      { timeout: 30_000 },
    );
    return Number.parseFloat(stdout.trim());
  } catch {
    return Number.NaN;
  }
}

/** Keeps the last few KiB of a stream, for error messages. */
function tailOf(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let tail = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
  });
  return () => tail.trim();
}

function lastLine(text: string): string {
  return text.split('\n').filter(Boolean).pop() ?? '';
}

interface Problem {
  message: string;
  /** The contender did not record for the whole time (it never started or ended early). */
  fatal: boolean;
}

interface RunningContender extends StartedContender {
  /** The first thing that went wrong, if anything; read after stop(). */
  problem(): Problem | undefined;
}

/** Remembers the first problem; a fatal one replaces an earlier note. */
function problemLog() {
  let problem: Problem | undefined;
  return {
    report(message: string, fatal: boolean) {
      if (!problem || (fatal && !problem.fatal)) problem = { message: message.trim(), fatal };
    },
    get: () => problem,
  };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

/** tapedeck's media worker with the spec; its process is the one measured. */
function startTapedeck(spec: RecordingSpec): RunningContender {
  const worker = new MediaWorker({ stderr: 'pipe' });
  const stderr = tailOf(worker.child.stderr);
  const problems = problemLog();
  let stopping = false;
  worker.on('died', ({ code, signal }) =>
    problems.report(
      `media worker died (${signal ?? `exit code ${code}`}) ${lastLine(stderr())}`,
      !stopping,
    ),
  );
  worker.on('event', (e) => {
    if (e.event === 'error') problems.report(`${e.data.source}: ${e.data.message}`, false);
  });
  const started = worker.start(spec).then(
    () => true,
    (error: Error) => {
      problems.report(`start failed: ${error.message} ${lastLine(stderr())}`, true);
      return false;
    },
  );
  const pid = worker.pid;
  if (pid === undefined) throw new Error('the media worker did not start');
  return {
    pid,
    stop: once(async () => {
      stopping = true;
      try {
        if (await started) {
          // The worker's reply carries timedOut, though the protocol type leaves it out.
          const result = await worker.stop(STOP_GRACE_MS);
          if ('timedOut' in result && result.timedOut === true)
            problems.report(`no EOS within ${STOP_GRACE_MS / 1000} s of stop`, false);
        }
      } catch (error) {
        problems.report(`stop failed: ${(error as Error).message}`, false);
      } finally {
        await worker.close(STOP_GRACE_MS);
      }
    }),
    problem: problems.get,
  };
}

/** gst-launch-1.0 -e with the whole pipeline; SIGINT makes it send EOS and finish the snippet. */
function startGstLaunch(spec: RecordingSpec): RunningContender {
  const args = ['-e', '-q', ...splitLaunchArgs(buildPipeline(spec).launch)];
  const child = spawn('gst-launch-1.0', args, {
    detached: true, // Ctrl-C in a terminal reaches the benchmark, which stops this with EOS
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = tailOf(child.stderr);
  const problems = problemLog();
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      problems.report(`cannot run gst-launch-1.0: ${error.message}`, true);
      resolve();
    });
    child.once('exit', (code, signal) => {
      if (!stopping || code !== 0)
        problems.report(
          `gst-launch-1.0 ended${stopping ? '' : ' early'} (${signal ?? `exit code ${code}`}) ${lastLine(stderr())}`,
          !stopping,
        );
      resolve();
    });
  });
  if (child.pid === undefined) throw new Error('gst-launch-1.0 did not start');
  const pid = child.pid;
  return {
    pid,
    stop: once(async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => {
        problems.report(`no EOS within ${STOP_GRACE_MS / 1000} s of SIGINT; killed`, false);
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }),
    problem: problems.get,
  };
}

/** The ffmpeg recorder; SIGINT makes it finish the open snippet. */
function startFfmpeg(spec: FfmpegRecorderSpec): RunningContender {
  const run = runFfmpegRecorder(spec);
  const problems = problemLog();
  let stopping = false;
  void run.done.then((code) => {
    // ffmpeg exits 255 after SIGINT even when it finished cleanly, so only an early end counts.
    if (!stopping)
      problems.report(`ffmpeg ended early (exit code ${code}) ${lastLine(run.stderrTail())}`, true);
  });
  if (run.child.pid === undefined) throw new Error('ffmpeg did not start');
  return {
    pid: run.child.pid,
    stop: once(async () => {
      stopping = true;
      const timer = setTimeout(() => {
        problems.report(`did not finish within ${STOP_GRACE_MS / 1000} s of SIGINT; killed`, false);
        void run.stop('SIGKILL');
      }, STOP_GRACE_MS);
      await run.stop('SIGINT');
      clearTimeout(timer);
    }),
    problem: problems.get,
  };
}

export interface BenchProgress {
  kind: BenchKind;
  contender: ContenderName;
  round: number;
  elapsedSec: number;
  durationSec: number;
}

export interface MediaBenchOptions {
  kinds: BenchKind[];
  durationSec: number;
  /** Times each contender runs, alternated (default 1). */
  rounds?: number;
  pattern: BenchPattern;
  /** Parent of the temporary folder; default os.tmpdir(). */
  workDir?: string;
  /** Keep the snippets instead of removing the temporary folder. */
  keep?: boolean;
  onProgress?: (p: BenchProgress) => void;
  onRow?: (row: BenchRow) => void;
  /** Stops the contender that is running (with EOS) and skips the rest. */
  signal?: AbortSignal;
}

export interface MediaBenchResult {
  rows: BenchRow[];
  /** The temporary folder; removed already unless keep was set. */
  dir: string;
  aborted: boolean;
}

/** Runs every kind's three contenders one after another. */
export async function runMediaBench(options: MediaBenchOptions): Promise<MediaBenchResult> {
  const dir = await mkdtemp(join(options.workDir ?? tmpdir(), 'tapedeck-bench-'));
  const rows: BenchRow[] = [];
  let aborted = false;
  try {
    const rounds = options.rounds ?? 1;
    for (const kind of options.kinds) {
      for (let round = 1; round <= rounds && !aborted; round++) {
        const base = rounds > 1 ? join(dir, kind, `round-${round}`) : join(dir, kind);
        const dirs = { tapedeck: join(base, 'tapedeck'), ffmpeg: join(base, 'ffmpeg') };
        const gstDir = join(base, 'gst-launch');
        const specs = benchSpecs(kind, options.pattern, dirs, options.durationSec);
        const gstSpec: RecordingSpec = { ...specs.recording, outDir: gstDir };
        const plan: [ContenderName, string, () => RunningContender][] = [
          ['tapedeck', dirs.tapedeck, () => startTapedeck(specs.recording)],
          ['gst-launch', gstDir, () => startGstLaunch(gstSpec)],
          ['ffmpeg', dirs.ffmpeg, () => startFfmpeg(specs.ffmpeg)],
        ];
        for (const [contender, outDir, start] of roundOrder(plan, round - 1)) {
          if (options.signal?.aborted) {
            aborted = true;
            break;
          }
          await mkdir(outDir, { recursive: true });
          const row = await runContender(kind, contender, round, outDir, start, options);
          rows.push(row);
          options.onRow?.(row);
        }
      }
      if (aborted) break;
    }
  } finally {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
  return { rows, dir, aborted: aborted || Boolean(options.signal?.aborted) };
}

async function runContender(
  kind: BenchKind,
  contender: ContenderName,
  round: number,
  outDir: string,
  start: () => RunningContender,
  options: MediaBenchOptions,
): Promise<BenchRow> {
  let running: RunningContender | undefined;
  const startedAt = Date.now();
  const progress = setInterval(
    () =>
      options.onProgress?.({
        kind,
        contender,
        round,
        elapsedSec: Math.min((Date.now() - startedAt) / 1000, options.durationSec),
        durationSec: options.durationSec,
      }),
    1000,
  );
  // Cumulative CPU of the tree at the end of the warm-up and at the stop, for the steady figure.
  const snapshot = async (pid: number) => ({
    cpuSec: (await watchProcessTree(pid).stop()).cpuSec,
    at: performance.now(),
  });
  let warm: Promise<{ cpuSec: number; at: number }> | undefined;
  let end: Promise<{ cpuSec: number; at: number }> | undefined;
  let warmTimer: NodeJS.Timeout | undefined;
  let machineStart: MachineSample | undefined;
  let machineEnd: MachineSample | undefined;
  let onAbort = () => undefined as void;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => {
      void running?.stop();
      resolve('aborted');
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort);
  });
  let usage: ContenderResult = {
    name: contender,
    wallSec: 0,
    cpuSec: 0,
    cpuShareOfCore: 0,
    peakRssMiB: 0,
  };
  let problem: Problem | undefined;
  try {
    const measured = await Promise.race([
      measureContender({
        name: contender,
        durationSec: options.durationSec,
        start: async () => {
          machineStart = sampleMachine();
          const r = (running = start());
          warmTimer = setTimeout(
            () => (warm = snapshot(r.pid)),
            warmupSec(options.durationSec) * 1000,
          );
          return {
            pid: r.pid,
            stop: async () => {
              clearTimeout(warmTimer);
              end ??= snapshot(r.pid);
              await end;
              machineEnd ??= sampleMachine();
              await r.stop();
            },
          };
        },
      }),
      aborted,
    ]);
    if (measured === 'aborted') problem = { message: 'interrupted before the end', fatal: true };
    else usage = measured;
  } catch (error) {
    problem = { message: (error as Error).message, fatal: true };
  } finally {
    clearInterval(progress);
    clearTimeout(warmTimer);
    options.signal?.removeEventListener('abort', onAbort);
    await running?.stop();
  }
  const [w, e] = [await warm, await end];
  const steadyCpuShareOfCore =
    w && e && e.at > w.at && e.cpuSec >= w.cpuSec
      ? (e.cpuSec - w.cpuSec) / ((e.at - w.at) / 1000)
      : Number.NaN;
  const otherCpuShareOfCore =
    machineStart && machineEnd && e
      ? otherCpuShare(machineStart, machineEnd, e.cpuSec)
      : Number.NaN;
  const later = running?.problem();
  if (!problem || (later?.fatal && !problem.fatal)) problem = later ?? problem;
  const extension = snippetExtension(kind);
  const files = await listSnippets(outDir, extension);
  const snippetSeconds = await Promise.all(files.map(probeDurationSec));
  if (!files.length)
    problem = {
      message: `no .${extension} snippet${problem ? `; ${problem.message}` : ''}`,
      fatal: true,
    };
  return {
    ...usage,
    kind,
    contender,
    round,
    ok: !problem?.fatal,
    ...(problem ? { problem: problem.message } : {}),
    snippets: files.length,
    snippetSeconds,
    steadyCpuShareOfCore,
    otherCpuShareOfCore,
  };
}
