/**
 * CPU time and memory of a process tree, sampled from /proc (Linux only).
 *
 * CPU accounting: every pid ever seen in the tree is tracked by (pid, starttime). Each sample
 * records its inclusive time utime+stime+cutime+cstime. When a tracked process disappears, its
 * last inclusive sample is added to a "retired" total, unless its parent is still a live tracked
 * process: then the parent reaps it and the time shows up in the parent's cutime/cstime. Children
 * that start and exit between two samples are therefore still counted, through their parent's
 * cutime/cstime, as long as some process in the tree waits for them.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface ProcessUsage {
  /** Wall-clock seconds between watchProcessTree() and stop(). */
  wallSec: number;
  /** User+system CPU seconds of the root and all its descendants (exited ones included). */
  cpuSec: number;
  /** cpuSec / wallSec: 1.0 means one core fully busy. */
  cpuShareOfCore: number;
  /** Maximum over samples of the summed VmRSS of the live tree, in MiB. */
  peakRssMiB: number;
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Clock ticks. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Clock ticks since boot; with pid, identifies a process across pid reuse. */
  starttime: number;
}

/**
 * Parses one /proc/PID/stat line. comm (field 2) is enclosed in parentheses and may itself
 * contain spaces and parentheses, so the fields after it are located from the LAST ')'.
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/PID/stat line: ${line.slice(0, 80)}`);
  const pid = Number(line.slice(0, open).trim());
  const comm = line.slice(open + 1, close);
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const rest = line
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): number => {
    const raw = rest[n - 3];
    const value = Number(raw);
    if (raw === undefined || !Number.isFinite(value)) {
      throw new Error(`/proc/PID/stat field ${n} missing or not numeric in: ${line.slice(0, 80)}`);
    }
    return value;
  };
  if (!Number.isInteger(pid))
    throw new Error(`bad pid in /proc/PID/stat line: ${line.slice(0, 80)}`);
  return {
    pid,
    comm,
    state: rest[0] ?? '?',
    ppid: field(4),
    pgrp: field(5),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    starttime: field(22),
  };
}

/**
 * VmRSS from the text of /proc/PID/status, in KiB. Returns 0 when the line is absent
 * (zombies and kernel threads have no VmRSS line).
 */
export function parseStatusVmRssKiB(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s*kB\s*$/m.exec(status);
  return match?.[1] !== undefined ? Number(match[1]) : 0;
}

let clockTicksCache: number | undefined;

/** `getconf CLK_TCK` (USER_HZ), cached; 100 if getconf fails. */
export function clockTicksPerSecond(): number {
  if (clockTicksCache === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicksCache = Number.isFinite(value) && value > 0 ? value : 100;
    } catch {
      clockTicksCache = 100;
    }
  }
  return clockTicksCache;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // exited meanwhile
  }
}

function readRssKiB(pid: number): number {
  try {
    return parseStatusVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return 0;
  }
}

/** All processes currently in /proc, as pid → stat. */
function readAllStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat) stats.set(stat.pid, stat);
  }
  return stats;
}

interface Tracked {
  pid: number;
  ppid: number;
  /** Last utime+stime+cutime+cstime, in ticks. */
  inclusiveTicks: number;
}

export interface ProcessTreeWatcher {
  /** Takes a last sample, stops sampling and returns the totals. Idempotent. */
  stop(): Promise<ProcessUsage>;
}

export interface WatchOptions {
  intervalMs?: number;
  /**
   * Count only CPU used after the first sample. Without it, the CPU the tree had already used
   * is counted too, which is right for a tree started together with the watch and wrong for one
   * that has been running (an ingest measured over one window of many).
   */
  sinceNow?: boolean;
}

/**
 * Samples the tree rooted at rootPid (root + every process whose ppid chain leads to it) every
 * intervalMs until stop(). Processes once seen stay tracked even if re-parented.
 */
export function watchProcessTree(
  rootPid: number,
  { intervalMs = 250, sinceNow = false }: WatchOptions = {},
): ProcessTreeWatcher {
  const ticksPerSec = clockTicksPerSecond();
  const startedAt = performance.now();
  const tracked = new Map<string, Tracked>(); // key `${pid}:${starttime}`
  let retiredTicks = 0;
  let peakRssKiB = 0;
  let rootStartTime: number | undefined;

  const sample = (): void => {
    const all = readAllStats();
    const liveKeys = new Set<string>();
    const livePids = new Set<number>();
    const members: ProcStat[] = [];

    // Root: only the process that was there at the first sample (guards against pid reuse).
    const root = all.get(rootPid);
    if (root && (rootStartTime === undefined || root.starttime === rootStartTime)) {
      rootStartTime = root.starttime;
      members.push(root);
    }
    // Previously tracked processes still alive (even if re-parented away from the tree).
    for (const [key, t] of tracked) {
      const stat = all.get(t.pid);
      if (stat && `${stat.pid}:${stat.starttime}` === key && stat.pid !== rootPid) {
        members.push(stat);
      }
    }
    for (const m of members) livePids.add(m.pid);
    // New descendants: breadth-first over the ppid relation.
    const children = new Map<number, ProcStat[]>();
    for (const stat of all.values()) {
      const list = children.get(stat.ppid);
      if (list) list.push(stat);
      else children.set(stat.ppid, [stat]);
    }
    const queue = [...livePids];
    while (queue.length > 0) {
      const pid = queue.shift() as number;
      for (const child of children.get(pid) ?? []) {
        if (livePids.has(child.pid)) continue;
        livePids.add(child.pid);
        members.push(child);
        queue.push(child.pid);
      }
    }

    let rssKiB = 0;
    for (const m of members) {
      const key = `${m.pid}:${m.starttime}`;
      liveKeys.add(key);
      tracked.set(key, {
        pid: m.pid,
        ppid: m.ppid,
        inclusiveTicks: m.utime + m.stime + m.cutime + m.cstime,
      });
      rssKiB += readRssKiB(m.pid);
    }
    peakRssKiB = Math.max(peakRssKiB, rssKiB);

    // Processes gone since the previous sample.
    for (const [key, t] of tracked) {
      if (liveKeys.has(key)) continue;
      tracked.delete(key);
      // Reaped by a live tracked parent → already (or soon) in that parent's cutime/cstime.
      if (!livePids.has(t.ppid)) retiredTicks += t.inclusiveTicks;
    }
  };

  sample();
  let baselineTicks = 0;
  if (sinceNow) for (const t of tracked.values()) baselineTicks += t.inclusiveTicks;
  const timer = setInterval(sample, intervalMs);
  timer.unref();

  let result: Promise<ProcessUsage> | undefined;
  return {
    stop(): Promise<ProcessUsage> {
      if (!result) {
        clearInterval(timer);
        sample();
        const wallSec = (performance.now() - startedAt) / 1000;
        let ticks = retiredTicks - baselineTicks;
        for (const t of tracked.values()) ticks += t.inclusiveTicks;
        const cpuSec = ticks / ticksPerSec;
        result = Promise.resolve({
          wallSec,
          cpuSec,
          cpuShareOfCore: wallSec > 0 ? cpuSec / wallSec : 0,
          peakRssMiB: peakRssKiB / 1024,
        });
      }
      return result;
    },
  };
}
