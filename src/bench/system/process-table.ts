/**
 * CPU and memory of every process in a tree, one row each, sampled from /proc over a window:
 * what `tapedeck bench system` prints per process. process-usage.ts sums a tree; here the rows
 * stay apart so that the Temporal server, the workers and each media process show their share.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { clockTicksPerSecond, parseProcStat, parseStatusVmRssKiB } from '../process-usage.ts';

export type ProcessRole =
  | 'node'
  | 'Temporal server'
  | 'Temporal worker'
  | 'media worker'
  /** A host's video decoded once for its recordings (`tapedeck up --shared-decode`). */
  | 'shared decoder'
  /** Scoring's decodes, one pipeline after another (src/moderation/measure-worker). */
  | 'measuring process'
  | 'GStreamer tool'
  | 'ffmpeg'
  | 'other'
  /** Short-lived children (a clip merge, a probe) that ended between two samples. */
  | 'ended children';

/** What a process is, from its command line (arguments joined by spaces). */
export function processRole(cmdline: string, isRoot: boolean): ProcessRole {
  if (isRoot) return 'node';
  // By the program first: a shell that guards a server names it in its arguments too.
  const program = (cmdline.split(' ')[0] ?? '').split('/').at(-1) ?? '';
  if (program === 'temporal' && / server start-dev\b/.test(cmdline)) return 'Temporal server';
  if (program === 'ffmpeg') return 'ffmpeg';
  if (program.startsWith('gst-')) return 'GStreamer tool';
  if (program !== 'node') return 'other';
  if (/media\/worker|worker-entry\.ts/.test(cmdline)) return 'media worker';
  if (/media\/decoder/.test(cmdline)) return 'shared decoder';
  if (/moderation\/measure-worker/.test(cmdline)) return 'measuring process';
  if (/\bmain\.ts worker\b/.test(cmdline)) return 'Temporal worker';
  return 'other';
}

export interface ProcessRow {
  pid: number;
  role: ProcessRole;
  command: string;
  /** Share of one core over the window (or over its life inside the window). */
  cpuPct: number;
  peakRssMiB: number;
  lastRssMiB: number;
}

export interface ProcessTableWatch {
  stop(): ProcessRow[];
}

interface Seen {
  pid: number;
  starttime: number;
  role: ProcessRole;
  command: string;
  firstTicks: number;
  lastTicks: number;
  /** Reaped children's CPU (cutime+cstime), first and last seen. */
  firstChildTicks: number;
  lastChildTicks: number;
  peakRssKiB: number;
  lastRssKiB: number;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  return (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ').trim();
}

/**
 * Samples every process under rootPid (the root included) every intervalMs, leaving out the
 * subtrees of the pids `exclude` returns (load generators that run under the same parent).
 * A process counts only the CPU it used after it was first seen.
 */
export function watchProcessTable(
  rootPid: number,
  exclude: () => readonly number[] = () => [],
  intervalMs = 1_000,
): ProcessTableWatch {
  const seen = new Map<string, Seen>();
  const startedAt = performance.now();
  const sample = (): void => {
    const stats = new Map<number, ReturnType<typeof parseProcStat>>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const text = readText(`/proc/${name}/stat`);
      if (text) stats.set(Number(name), parseProcStat(text));
    }
    const children = new Map<number, number[]>();
    for (const s of stats.values()) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
    const skip = new Set(exclude());
    const queue = [rootPid];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      if (skip.has(pid)) continue;
      const stat = stats.get(pid);
      if (!stat) continue;
      queue.push(...(children.get(pid) ?? []));
      const key = `${pid}:${stat.starttime}`;
      const ticks = stat.utime + stat.stime;
      const childTicks = stat.cutime + stat.cstime;
      const rss = parseStatusVmRssKiB(readText(`/proc/${pid}/status`) ?? '');
      const row = seen.get(key);
      if (row) {
        // A launcher (nice, a guard shell) keeps its pid and start time when it execs what it
        // launches: the role comes from what the process runs now.
        if (row.role === 'other') {
          const now = commandOf(pid);
          if (now !== row.command) {
            row.command = now;
            row.role = processRole(now, pid === rootPid);
          }
        }
        row.lastTicks = ticks;
        row.lastChildTicks = childTicks;
        row.peakRssKiB = Math.max(row.peakRssKiB, rss);
        row.lastRssKiB = rss;
        continue;
      }
      const command = commandOf(pid);
      seen.set(key, {
        pid,
        starttime: stat.starttime,
        role: processRole(command, pid === rootPid),
        command,
        firstTicks: ticks,
        lastTicks: ticks,
        firstChildTicks: childTicks,
        lastChildTicks: childTicks,
        peakRssKiB: rss,
        lastRssKiB: rss,
      });
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  let rows: ProcessRow[] | undefined;
  return {
    stop() {
      if (rows) return rows;
      clearInterval(timer);
      sample();
      const wallSec = (performance.now() - startedAt) / 1000;
      const hz = clockTicksPerSecond();
      const pct = (ticks: number) => (wallSec > 0 ? (ticks / hz / wallSec) * 100 : 0);
      rows = [...seen.values()].map((s) => ({
        pid: s.pid,
        role: s.role,
        command: s.command,
        cpuPct: pct(s.lastTicks - s.firstTicks),
        peakRssMiB: s.peakRssKiB / 1024,
        lastRssMiB: s.lastRssKiB / 1024,
      }));
      // Children seen by a sample were counted in their own row as well as, once reaped, in
      // their parent's cutime; what the parents reaped beyond those rows' CPU ended unseen.
      let reaped = 0;
      for (const s of seen.values()) reaped += s.lastChildTicks - s.firstChildTicks;
      const seenEnded = [...seen.values()]
        .filter((s) => s.pid !== rootPid && !existsSync(`/proc/${s.pid}`))
        .reduce((sum, s) => sum + (s.lastTicks - s.firstTicks), 0);
      const unseen = Math.max(0, reaped - seenEnded);
      if (unseen > 0)
        rows.push({
          pid: 0,
          role: 'ended children',
          command: '(short-lived children that ended between samples)',
          cpuPct: pct(unseen),
          peakRssMiB: 0,
          lastRssMiB: 0,
        });
      return rows;
    },
  };
}

export interface RoleTotal {
  role: ProcessRole;
  processes: number;
  cpuPct: number;
  peakRssMiB: number;
}

/** Rows summed per role, the busiest first. */
export function totalsByRole(rows: readonly ProcessRow[]): RoleTotal[] {
  const by = new Map<ProcessRole, RoleTotal>();
  for (const r of rows) {
    const t = by.get(r.role) ?? { role: r.role, processes: 0, cpuPct: 0, peakRssMiB: 0 };
    t.processes += 1;
    t.cpuPct += r.cpuPct;
    t.peakRssMiB += r.peakRssMiB;
    by.set(r.role, t);
  }
  return [...by.values()].sort((a, b) => b.cpuPct - a.cpuPct);
}
