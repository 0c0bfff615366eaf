/**
 * Memory and descriptor growth over a soak. Samples taken while a fault or its recovery is under
 * way are left out: a killed worker lowers the sum and a camera switch briefly adds a process,
 * neither of which says anything about leaks.
 */

import { median as medianOf } from '../stats.ts';

export interface UsageSample {
  /** Seconds since the hosts started publishing. */
  atSec: number;
  /** Resident memory, KiB: the node's own process, its worker processes, their media workers. */
  rssKiB: { node: number; workers: number; media: number };
  /** Open descriptors of the same processes. */
  fds: { node: number; workers: number; media: number };
  /** The same descriptors by what they are, all processes together. */
  fdKinds: Record<FdKind, number>;
  /** Media worker processes running (one per recording, more during a switch). */
  mediaProcesses: number;
  /** No fault or recovery under way when it was taken. */
  quiet: boolean;
}

export interface GrowthFigures {
  samples: number;
  baselineAtSec: number | null;
  endAtSec: number | null;
  rss: { baselineMiB: number; endMiB: number; growthPct: number; nodeGrowthPct: number };
  /**
   * Open descriptors; `parts` is the growth in each kind of process and `kinds` the growth in
   * each kind of descriptor, so a leak says where it is and what it holds.
   */
  fds: {
    baseline: number;
    end: number;
    growth: number;
    parts: Record<FdPart, number>;
    kinds: Record<FdKind, number>;
  };
}

export type FdPart = keyof UsageSample['fds'];
const FD_PARTS: readonly FdPart[] = ['node', 'workers', 'media'];
export type FdKind = 'socket' | 'pipe' | 'file' | 'other';
export const FD_KINDS: readonly FdKind[] = ['socket', 'pipe', 'file', 'other'];

export const noFds = (): Record<FdKind, number> => ({ socket: 0, pipe: 0, file: 0, other: 0 });

export function addKinds(counts: readonly Record<FdKind, number>[]): Record<FdKind, number> {
  const total = noFds();
  for (const c of counts) for (const k of FD_KINDS) total[k] += c[k];
  return total;
}

export const fdCount = (kinds: Record<FdKind, number>): number =>
  FD_KINDS.reduce((n, k) => n + kinds[k], 0);

export const RSS_GROWTH_LIMIT_PCT = 10;
/** Sockets to four servers and the publishers come and go; more than this is growth. */
export const FD_SLACK = 5;

const rssTotal = (s: UsageSample) => s.rssKiB.node + s.rssKiB.workers + s.rssKiB.media;
const fdTotal = (s: UsageSample) => s.fds.node + s.fds.workers + s.fds.media;

const median = (values: number[]): number => (values.length ? medianOf(values) : 0);

/**
 * Baseline: the median of the first `window` quiet samples after the warm-up. End: the median of
 * the last `window` quiet samples. Medians, so one sample during a snippet upload does not decide.
 */
export function growthFigures(
  samples: readonly UsageSample[],
  warmupSec: number,
  window = 3,
): GrowthFigures {
  const quiet = samples.filter((s) => s.quiet && s.atSec >= warmupSec);
  const first = quiet.slice(0, window);
  const last = quiet.slice(-window);
  const growthOf = <K extends string>(keys: readonly K[], of: (s: UsageSample, k: K) => number) =>
    Object.fromEntries(
      keys.map((k) => [k, median(last.map((s) => of(s, k))) - median(first.map((s) => of(s, k)))]),
    ) as Record<K, number>;
  const pct = (a: number, b: number) => (a > 0 ? ((b - a) / a) * 100 : 0);
  const baseRss = median(first.map(rssTotal));
  const endRss = median(last.map(rssTotal));
  const baseFds = median(first.map(fdTotal));
  const endFds = median(last.map(fdTotal));
  return {
    samples: quiet.length,
    baselineAtSec: first[0]?.atSec ?? null,
    endAtSec: last.at(-1)?.atSec ?? null,
    rss: {
      baselineMiB: baseRss / 1024,
      endMiB: endRss / 1024,
      growthPct: pct(baseRss, endRss),
      nodeGrowthPct: pct(
        median(first.map((s) => s.rssKiB.node)),
        median(last.map((s) => s.rssKiB.node)),
      ),
    },
    fds: {
      baseline: baseFds,
      end: endFds,
      growth: endFds - baseFds,
      parts: growthOf(FD_PARTS, (s, p) => s.fds[p]),
      kinds: growthOf(FD_KINDS, (s, k) => s.fdKinds[k]),
    },
  };
}

/** Growth can only be judged with a baseline and an end that are not the same samples. */
export function growthJudgeable(g: GrowthFigures, window = 3): boolean {
  return g.samples >= window * 2;
}

export function rssMet(g: GrowthFigures): boolean {
  return g.rss.growthPct < RSS_GROWTH_LIMIT_PCT;
}

export function fdsMet(g: GrowthFigures): boolean {
  return g.fds.growth <= FD_SLACK;
}
