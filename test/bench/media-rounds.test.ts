import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BenchRow } from '../../src/bench/media-bench.ts';
import { formatKindReport, toBenchJson } from '../../src/bench/media-bench.ts';
import { formatRounds, medianRows, roundOrder } from '../../src/bench/media-rounds.ts';
import { median } from '../../src/bench/stats.ts';

function row(
  contender: BenchRow['contender'],
  round: number,
  cpu: number,
  extra: Partial<BenchRow> = {},
): BenchRow {
  return {
    name: contender,
    kind: 'audio',
    contender,
    round,
    ok: true,
    wallSec: 60,
    cpuSec: cpu * 60,
    cpuShareOfCore: cpu,
    steadyCpuShareOfCore: cpu * 0.9,
    otherCpuShareOfCore: 0.01,
    peakRssMiB: 70 + round,
    snippets: 4,
    snippetSeconds: [15, 15, 15, 15],
    ...extra,
  };
}

describe('roundOrder', { timeout: 5_000 }, () => {
  it('starts each round one contender later', { timeout: 1_000 }, () => {
    const plan = ['a', 'b', 'c'];
    assert.deepEqual(roundOrder(plan, 0), ['a', 'b', 'c']);
    assert.deepEqual(roundOrder(plan, 1), ['b', 'c', 'a']);
    assert.deepEqual(roundOrder(plan, 2), ['c', 'a', 'b']);
    assert.deepEqual(roundOrder(plan, 3), ['a', 'b', 'c']);
    assert.deepEqual(roundOrder([], 2), []);
  });
});

describe('median', { timeout: 5_000 }, () => {
  it(
    'takes the middle value, the mean of the two middle ones for an even count',
    { timeout: 1_000 },
    () => {
      assert.equal(median([3, 1, 2]), 2);
      assert.equal(median([4, 1, 3, 2]), 2.5);
      assert.equal(median([5]), 5);
    },
  );
  it('leaves out values that are not numbers, and is NaN without any', { timeout: 1_000 }, () => {
    assert.equal(median([Number.NaN, 1, 3]), 2);
    assert.ok(Number.isNaN(median([])));
    assert.ok(Number.isNaN(median([Number.NaN])));
  });
});

describe('medianRows', { timeout: 5_000 }, () => {
  const rows = [
    row('tapedeck', 1, 0.013),
    row('gst-launch', 1, 0.011),
    row('gst-launch', 2, 0.012),
    row('tapedeck', 2, 0.011),
    row('tapedeck', 3, 0.02),
    row('gst-launch', 3, 0.01),
  ];

  it('gives one row per contender: CPU medians, the highest RSS', { timeout: 1_000 }, () => {
    const [tapedeck, gst] = medianRows(rows);
    assert.equal(tapedeck!.contender, 'tapedeck');
    assert.equal(tapedeck!.round, 0);
    assert.equal(tapedeck!.cpuShareOfCore, 0.013);
    assert.ok(Math.abs(tapedeck!.steadyCpuShareOfCore - 0.013 * 0.9) < 1e-12);
    assert.equal(tapedeck!.peakRssMiB, 73);
    assert.equal(gst!.cpuShareOfCore, 0.011);
    assert.equal(gst!.ok, true);
    assert.equal(gst!.problem, undefined);
  });

  it('fails a contender that failed in any round, saying which', { timeout: 1_000 }, () => {
    const [, gst] = medianRows([
      ...rows.slice(0, 5),
      row('gst-launch', 3, 0, { ok: false, problem: 'no .mp3 snippet' }),
    ]);
    assert.equal(gst!.ok, false);
    assert.equal(gst!.problem, 'round 3: no .mp3 snippet');
  });

  it('reports and judges the medians, listing every round', { timeout: 1_000 }, () => {
    const report = formatKindReport('audio', rows, 60);
    assert.match(report, /median of 3 rounds/);
    assert.match(report, /^ {2}tapedeck {4}1\.3 \(1\.2\), 1\.1 \(1\.0\), 2\.0 \(1\.8\)$/m);
    const json = toBenchJson(rows, { durationSec: 60, pattern: 'bars' });
    assert.equal(json.rounds, 3);
    assert.equal(json.rows.length, 6);
    const vsGst = json.targets.find((t) => t.metric === 'cpu-vs-gst-launch')!;
    // 0.013 / 0.011, not round 1's or the last round's ratio.
    assert.equal(vsGst.value, Number((0.013 / 0.011).toFixed(4)));
    assert.equal(vsGst.status, 'missed');
  });

  it('lists rounds in order whatever order the rows came in', { timeout: 1_000 }, () => {
    const text = formatRounds([row('ffmpeg', 2, 0.02), row('ffmpeg', 1, 0.01)]);
    assert.match(text, /ffmpeg {2}1\.0 \(0\.9\), 2\.0 \(1\.8\)/);
  });
});
