import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { noFds, type FdKind } from './growth.ts';
import { parseProcStat, parseStatusVmRssKiB } from '../process-usage.ts';

/** What /proc says about the node's processes; every read tolerates a process that just ended. */

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function rssKiB(pid: number): number {
  const status = read(`/proc/${pid}/status`);
  return status ? parseStatusVmRssKiB(status) : 0;
}

/** A process's open descriptors by what they are; a socket's peer is not looked up. */
export function fdKinds(pid: number): Record<FdKind, number> {
  const kinds = noFds();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return kinds;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    kinds[fdKindOf(target)] += 1;
  }
  return kinds;
}

export function fdKindOf(target: string): FdKind {
  if (target.startsWith('socket:')) return 'socket';
  if (target.startsWith('pipe:')) return 'pipe';
  if (target.startsWith('/')) return 'file';
  return 'other';
}

/** The media worker processes under the given worker processes, by pid. */
export function mediaWorkers(parents: readonly number[]): number[] {
  const wanted = new Set(parents);
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    let ppid: number;
    try {
      ppid = parseProcStat(stat).ppid;
    } catch {
      continue;
    }
    if (!wanted.has(ppid)) continue;
    // The bundle's path keeps media/worker/main in the command line; that is how one is known.
    const cmdline = read(`/proc/${name}/cmdline`) ?? '';
    if (cmdline.includes('media/worker/main')) out.push(Number(name));
  }
  return out.sort((a, b) => a - b);
}

/**
 * The media workers that hold a recording: they have a snippet open in a spool. The others are
 * the pool's spares, started ahead of need, whose loss costs nothing.
 */
export function recordingMediaWorkers(parents: readonly number[]): number[] {
  return mediaWorkers(parents).filter((pid) => {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    return fds.some((fd) => {
      try {
        return /\/spool\/.*\.mp[34]$/.test(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false;
      }
    });
  });
}
