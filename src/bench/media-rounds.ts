import type { BenchRow } from './media-bench.ts';
import { median } from './stats.ts';

/**
 * Rounds of `tapedeck bench media`: the same contenders run several times, alternated, and
 * judged by their medians. On a small shared machine one run's figures move between runs by as
 * much as the contenders differ (a pipeline of 1 % of a core reads 1.1 one minute and 1.3 the
 * next), so one run cannot tell a 10 % difference from noise; the median of alternated runs can
 * come closer, and the per-round figures show how far apart the runs were.
 */

/** Each round starts one contender later, so a machine slowly getting busier or quieter weighs
 * on every contender alike rather than always on the last. */
export function roundOrder<T>(plan: readonly T[], round: number): T[] {
  const shift = plan.length ? round % plan.length : 0;
  return [...plan.slice(shift), ...plan.slice(0, shift)];
}

/** What the summary needs of a row. */
export type RoundRow = Pick<
  BenchRow,
  | 'kind'
  | 'contender'
  | 'round'
  | 'ok'
  | 'problem'
  | 'wallSec'
  | 'cpuSec'
  | 'cpuShareOfCore'
  | 'steadyCpuShareOfCore'
  | 'otherCpuShareOfCore'
  | 'peakRssMiB'
>;

/**
 * One row per kind and contender, in the order first seen: CPU figures are medians over the
 * rounds, peak RSS the highest of them, and the row fails when any round failed (that round's
 * problem is kept). Snippets are the first round's.
 */
export function medianRows<R extends RoundRow>(rows: readonly R[]): R[] {
  const groups = new Map<string, R[]>();
  for (const r of rows) {
    const key = `${r.kind}\u0000${r.contender}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const failed = group.find((r) => !r.ok);
    const pick = (f: (r: R) => number) => median(group.map(f));
    const summary: R = {
      ...group[0]!,
      round: 0,
      ok: !failed,
      wallSec: pick((r) => r.wallSec),
      cpuSec: pick((r) => r.cpuSec),
      cpuShareOfCore: pick((r) => r.cpuShareOfCore),
      steadyCpuShareOfCore: pick((r) => r.steadyCpuShareOfCore),
      otherCpuShareOfCore: pick((r) => r.otherCpuShareOfCore),
      peakRssMiB: Math.max(...group.map((r) => r.peakRssMiB)),
    };
    const problem = failed?.problem ?? group.find((r) => r.problem)?.problem;
    if (problem) summary.problem = `round ${(failed ?? group[0]!).round}: ${problem}`;
    else delete summary.problem;
    return summary;
  });
}

/** Every round's CPU, per contender in the order the rows came: how far apart the runs were. */
export function formatRounds(rows: readonly RoundRow[]): string {
  const byContender = new Map<string, RoundRow[]>();
  for (const r of rows) byContender.set(r.contender, [...(byContender.get(r.contender) ?? []), r]);
  const width = Math.max(...[...byContender.keys()].map((c) => c.length));
  const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(1) : 'n/a');
  return (
    'CPU % of core per round (whole run; without the warm-up in brackets):\n' +
    [...byContender.entries()]
      .map(
        ([contender, own]) =>
          `  ${contender.padEnd(width)}  ` +
          [...own]
            .sort((a, b) => a.round - b.round)
            .map((r) => `${pct(r.cpuShareOfCore)} (${pct(r.steadyCpuShareOfCore)})`)
            .join(', '),
      )
      .join('\n') +
    '\n'
  );
}
