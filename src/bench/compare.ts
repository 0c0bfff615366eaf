/** Runs benchmark contenders under a process-tree watcher and formats the comparison. */
import { setTimeout as sleep } from 'node:timers/promises';
import { watchProcessTree, type ProcessUsage } from './process-usage.ts';

export interface StartedContender {
  /** Root of the contender's process tree. */
  pid: number;
  /** Ends the contender (and waits for it). */
  stop: () => Promise<void>;
}

export interface Contender {
  name: string;
  start: () => Promise<StartedContender>;
  durationSec: number;
  /** Sampling interval of the watcher; default 250 ms. */
  intervalMs?: number;
}

export interface ContenderResult extends ProcessUsage {
  name: string;
}

/**
 * Starts the contender, watches its process tree for durationSec, then takes the final sample
 * (while the tree is still running, so no time is lost to exited processes) and stops it.
 * Startup after start() resolves is included; shutdown work after stop() is not.
 */
export async function measureContender({
  name,
  start,
  durationSec,
  intervalMs = 250,
}: Contender): Promise<ContenderResult> {
  const started = await start();
  try {
    const watcher = watchProcessTree(started.pid, { intervalMs });
    await sleep(durationSec * 1000);
    const usage = await watcher.stop();
    return { name, ...usage };
  } finally {
    await started.stop();
  }
}

function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : 'n/a';
}

/** Columns padded to their widest cell, under a header and a rule. */
export function table(header: string[], body: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) =>
        rightAligned[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n');
}

/**
 * Text table: per contender wall time, CPU % of one core and peak RSS, followed by the ratios
 * (CPU and peak RSS) of every contender against every other, the baseline's rows first.
 */
export function formatComparison(rows: ContenderResult[], baselineName: string): string {
  const baseline = rows.find((r) => r.name === baselineName);
  if (!baseline) throw new Error(`baseline ${JSON.stringify(baselineName)} is not among the rows`);
  const ordered = [baseline, ...rows.filter((r) => r !== baseline)];

  const main = table(
    ['contender', 'wall s', 'CPU % of core', 'CPU s', 'peak RSS MiB'],
    ordered.map((r) => [
      r.name,
      r.wallSec.toFixed(1),
      (r.cpuShareOfCore * 100).toFixed(1),
      r.cpuSec.toFixed(2),
      r.peakRssMiB.toFixed(1),
    ]),
    [false, true, true, true, true],
  );
  if (ordered.length < 2) return `${main}\n`;

  const pairs: string[][] = [];
  for (const a of ordered) {
    for (const b of ordered) {
      if (a === b) continue;
      pairs.push([
        `${a.name} vs ${b.name}`,
        ratio(a.cpuShareOfCore, b.cpuShareOfCore),
        ratio(a.peakRssMiB, b.peakRssMiB),
      ]);
    }
  }
  const ratios = table(['ratio', 'CPU', 'peak RSS'], pairs, [false, true, true]);
  return `${main}\n\n${ratios}\n`;
}
