/**
 * How busy the whole machine was while a benchmark measured: what a contender's figures cannot
 * show by themselves. Work elsewhere on the cores slows a measured process down and, on shared
 * machines, can inflate the CPU time it is charged, so benchmarks print it beside their figures.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { clockTicksPerSecond } from './process-usage.ts';

/** Other load above this share of a core gets a warning beside the figures. */
export const OTHER_LOAD_WARNING = 0.1;

/** Busy clock ticks of all cores from the text of /proc/stat (its aggregate "cpu" line). */
export function parseCpuBusyTicks(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate "cpu" line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest time is already in user and nice).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system + irq + softirq + steal;
}

export interface MachineSample {
  /** Busy CPU seconds of all cores. */
  busySec: number;
  /** This process's own CPU seconds. */
  selfSec: number;
  at: number;
}

export function sampleMachine(): MachineSample {
  const self = process.cpuUsage();
  let busySec = Number.NaN;
  try {
    busySec = parseCpuBusyTicks(readFileSync('/proc/stat', 'utf8')) / clockTicksPerSecond();
  } catch {
    // not Linux: no figure
  }
  return { busySec, selfSec: (self.user + self.system) / 1e6, at: performance.now() };
}

/**
 * CPU share of one core used by everything but the measured processes (their CPU seconds in the
 * same interval) and this process; never below 0, NaN without /proc.
 */
export function otherCpuShare(a: MachineSample, b: MachineSample, measuredCpuSec: number): number {
  const wallSec = (b.at - a.at) / 1000;
  const others = b.busySec - a.busySec - measuredCpuSec - (b.selfSec - a.selfSec);
  return wallSec > 0 ? Math.max(0, others / wallSec) : Number.NaN;
}
