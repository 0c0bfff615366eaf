import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import {
  cleanCases,
  costSummary,
  detection,
  detectionRows,
  formatPercent,
  formatRate,
  formatScoringReport,
  impairedCases,
  impairedRange,
  launchDescription,
  markdownTable,
  rangeInSnippet,
  toneVolume,
  toScoringJson,
  wholeUnits,
  type CaseOutcome,
  type ScoringBenchJson,
  type ScoringBenchResult,
} from '../../src/bench/scoring-bench.ts';
import { parseDurations } from '../../src/cli/bench.ts';
import { DEFAULT_QUALITY_THRESHOLDS } from '../../src/domain/quality-rules.ts';
import { tempDir } from '../support/tapedeck.ts';

const TAPEDECK = fileURLToPath(new URL('../../tapedeck', import.meta.url));
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const outcome = (o: Partial<CaseOutcome>): CaseOutcome => ({
  name: 'x',
  impairment: 'black',
  durationSec: 3,
  position: 'start',
  container: 'mp4',
  detected: true,
  others: [],
  ...o,
});

describe('scoring bench: cases', () => {
  it('places an impairment at the start, middle (off the grid), end or across a boundary', () => {
    assert.deepEqual(impairedRange(3, 'start'), { fromSec: 0, toSec: 3, totalSec: 15 });
    assert.deepEqual(impairedRange(3, 'middle'), { fromSec: 6.3, toSec: 9.3, totalSec: 15 });
    assert.deepEqual(impairedRange(5, 'end'), { fromSec: 10, toSec: 15, totalSec: 15 });
    assert.deepEqual(impairedRange(3, 'across'), { fromSec: 13.5, toSec: 16.5, totalSec: 30 });
    assert.throws(() => impairedRange(0, 'start'), RangeError);
    assert.throws(() => impairedRange(16, 'start'), RangeError);
  });

  it('gives the part of an impairment inside each snippet', () => {
    const r = { fromSec: 13.5, toSec: 16.5 };
    assert.deepEqual(rangeInSnippet(r, 0), { fromSec: 13.5, toSec: 15 });
    assert.deepEqual(rangeInSnippet(r, 1), { fromSec: 0, toSec: 1.5 });
    assert.equal(rangeInSnippet(r, 2), null);
  });

  it('rounds lengths to whole frames or buffers without losing any at the total', () => {
    const frames = wholeUnits([1.5, 0.7, 12.8], 1 / 15);
    assert.equal(
      frames.reduce((a, b) => a + b, 0),
      225,
    );
    assert.deepEqual(wholeUnits([0.015, 0.015], 0.01), [2, 1]);
  });

  it('aims tones at a level and never asks for more than full volume', () => {
    assert.ok(Math.abs(toneVolume({ wave: 'sine', levelDb: -20 }) - 0.1 * Math.SQRT2) < 1e-9);
    assert.equal(toneVolume({ wave: 'sine', levelDb: 0 }), 1);
  });

  it('makes every impairment at every place, audio ones in MP4 and MP3, with unique names', () => {
    const cases = impairedCases([3, 5]);
    // (2 video kinds × 1 container + 3 audio kinds × 2 containers) × 2 lengths × 4 places
    assert.equal(cases.length, (2 + 6) * 2 * 4);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
    for (const c of cases) {
      const audioSec = c.timeline.audio.reduce((s, a) => s + a.sec, 0);
      const videoSec = c.timeline.video.reduce((s, v) => s + v.sec, 0);
      assert.ok(Math.abs(audioSec - c.timeline.totalSec) < 1e-9, c.name);
      assert.ok(Math.abs(videoSec - c.timeline.totalSec) < 1e-9, c.name);
    }
    const frozen = cases.find((c) => c.impairment === 'frozen')!;
    assert.ok(frozen.timeline.video.some((v) => v.still && v.source !== 'black'));
  });

  it('makes clean cases repeatably, 15 s each, with speech pauses shorter than 1.2 s', () => {
    const a = cleanCases(12);
    assert.equal(a.length, 12);
    assert.deepEqual(a, cleanCases(12));
    for (const c of a) {
      const audioSec = c.timeline.audio.reduce((s, x) => s + x.sec, 0);
      assert.ok(Math.abs(audioSec - 15) < 1e-9, c.name);
      assert.equal(
        c.timeline.video.reduce((s, x) => s + x.sec, 0),
        15,
      );
      for (const seg of c.timeline.audio) {
        assert.ok(seg.tones.length > 0, `${c.name}: no digital silence in clean content`);
        // A pause is room tone alone.
        if (seg.tones.length === 1) assert.ok(seg.sec <= 1.2 + 1e-9, c.name);
      }
    }
  });

  it('encodes like the recorder and cuts with its splitmuxsink', () => {
    const [c] = impairedCases([3]).filter((x) => x.impairment === 'frozen');
    const mp4 = launchDescription(c!.timeline, 'mp4', '/tmp/x/s%06d.mp4');
    for (const part of [
      'x264enc',
      'bitrate=5000',
      'key-int-max=5',
      'profile=main',
      'width=640,height=360,framerate=15/1',
      'voaacenc',
      'bitrate=44000',
      'splitmuxsink',
      'max-size-time=15000000000',
      'imagefreeze',
    ])
      assert.ok(mp4.includes(part), part);
    const mp3 = launchDescription(c!.timeline, 'mp3', '/tmp/x/s%06d.mp3');
    assert.ok(mp3.includes('lamemp3enc') && !mp3.includes('x264enc'));
  });
});

describe('scoring bench: matching and tables', () => {
  it('detects an impairment by its kind at its place, in either snippet that holds it', () => {
    const c = { impairment: 'silence' as const, fromSec: 13.5, toSec: 16.5 };
    const at = (from: number, to: number, impairment = 'silence' as const) => ({
      impairment,
      fromSec: from,
      toSec: to,
    });
    assert.equal(
      detection(c, [
        { index: 0, reasons: [] },
        { index: 1, reasons: [at(0, 1.5)] },
      ]).detected,
      true,
    );
    const elsewhere = detection(c, [{ index: 1, reasons: [at(8, 12)] }]);
    assert.equal(elsewhere.detected, false);
    assert.deepEqual(elsewhere.others, ['1:silence 8.0-12.0 s']);
    const wrongKind = detection(c, [
      { index: 0, reasons: [{ impairment: 'noise', fromSec: 13, toSec: 15 }] },
    ]);
    assert.equal(wrongKind.detected, false);
    assert.deepEqual(wrongKind.others, ['0:noise 13.0-15.0 s']);
  });

  it('counts detections per impairment and length, in kind order, naming the misses', () => {
    const rows = detectionRows([
      outcome({ impairment: 'noise', durationSec: 3 }),
      outcome({ impairment: 'black', durationSec: 5 }),
      outcome({ impairment: 'black', durationSec: 3, detected: false, position: 'middle' }),
      outcome({ impairment: 'black', durationSec: 3 }),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.impairment, r.durationSec, r.detected, r.total, r.missed]),
      [
        ['black', 3, 1, 2, ['middle mp4']],
        ['black', 5, 1, 1, []],
        ['noise', 3, 1, 1, []],
      ],
    );
  });

  it('formats rates, percentages and tables', () => {
    assert.equal(formatRate(3, 4), '3/4');
    assert.equal(formatPercent(1, 3), '33.3 %');
    assert.equal(formatPercent(0, 0), 'n/a');
    assert.equal(
      markdownTable(['a', 'bb'], [['xxx', 'y']]),
      '| a   | bb |\n|-----|----|\n| xxx | y  |\n',
    );
  });

  it('turns CPU seconds per snippet into a share of one core', () => {
    const c = costSummary(
      'mp4',
      [0.3, 0.6, 0.3, 0.3].map((cpuSec) => ({ cpuSec, wallSec: cpuSec * 2 })),
    );
    assert.equal(c.snippets, 4);
    assert.ok(Math.abs(c.cpuSecMean - 0.375) < 1e-12);
    assert.equal(c.cpuSecP95, 0.6);
    assert.ok(Math.abs(c.coreShareMean - 0.025) < 1e-12);
    assert.ok(Math.abs(c.coreShareP95 - 0.04) < 1e-12);
    assert.equal(c.wallSecP95, 1.2);
  });

  it('is ok only with every impairment found and at most 2 % of clean snippets flagged', () => {
    const result = (flagged: number, missed: number): ScoringBenchResult => ({
      impaired: [
        outcome({}),
        ...Array.from({ length: missed }, () => outcome({ detected: false })),
      ],
      clean: Array.from({ length: 100 }, (_, i) => ({
        name: `clean-${i}`,
        description: 'ball, speech',
        container: 'mp4' as const,
        review: i < flagged,
        reasons: i < flagged ? [{ impairment: 'frozen' as const, fromSec: 0, toSec: 15 }] : [],
      })),
      cost: [costSummary('mp4', [{ cpuSec: 0.3, wallSec: 0.4 }])],
      failed: [],
      retries: [],
      generateSec: 1,
      thresholds: DEFAULT_QUALITY_THRESHOLDS,
    });
    assert.equal(toScoringJson(result(2, 0)).ok, true);
    assert.equal(toScoringJson(result(3, 0)).ok, false);
    assert.equal(toScoringJson(result(0, 1)).ok, false);
    const text = formatScoringReport(result(1, 1));
    assert.match(text, /\| black +\| 3 s +\| 1\/2 +\| 50\.0 % +\| start mp4/);
    assert.match(text, /\| all +\| 1\/100 +\| 1\.0 % +\|/);
    assert.match(text, /clean-0\.mp4 \(ball, speech\): frozen 0\.0-15\.0 s/);
    assert.match(text, /MP4 \(H\.264 \+ AAC\) \| 1 +\| 0\.300/);
  });

  it('reads impairment lengths from the command line', () => {
    assert.deepEqual(parseDurations('3, 5,10'), [3, 5, 10]);
    assert.throws(() => parseDurations('0.5'), /durations/);
    assert.throws(() => parseDurations(''), /durations/);
  });
});

describe('tapedeck bench scoring (real GStreamer, through the CLI)', { timeout: 300_000 }, () => {
  it('finds every 3-s impairment and prints the three tables', { timeout: 290_000 }, async (t) => {
    const work = await tempDir('scoring-bench');
    dirs.push(work);
    const child = spawn(
      TAPEDECK,
      ['bench', 'scoring', '--clean', '3', '--durations', '3', '--work', work, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 280_000, killSignal: 'SIGKILL' },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const last = stdout.trimEnd().split('\n').pop() ?? '';
    const json = JSON.parse(last) as ScoringBenchJson;
    const why = `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
    for (const line of stdout.split('\n').filter((l) => /^(Generation runs|NOT GENERATED)/.test(l)))
      t.diagnostic(line);
    assert.equal(json.impaired, 32, why);
    assert.equal(json.detected, json.impaired, why);
    assert.equal(json.clean, 6, why);
    assert.deepEqual(json.failed, [], why);
    assert.deepEqual(
      json.rows.map((r) => r.impairment),
      ['black', 'frozen', 'silence', 'clipping', 'noise'],
    );
    for (const r of json.rows) assert.equal(r.detected, r.total, `${r.impairment}: ${why}`);
    assert.match(stdout, /\| impairment +\| duration +\| detected +\| rate +\|/);
    assert.match(stdout, /\| all +\| +\| 32\/32 +\| 100\.0 % +\|/);
    assert.match(stdout, /\| clean snippets +\| flagged +\| rate +\|/);
    assert.match(stdout, /\| MP4 \(H\.264 \+ AAC\) +\| \d+ +\| \d+\.\d{3} +\|/);
    const mp4 = json.cost.find((c) => c.container === 'mp4')!;
    assert.ok(mp4.cpuSecMean > 0 && mp4.coreShareMean < 1, JSON.stringify(mp4));
    assert.equal(code, json.ok ? 0 : 1);
  });
});
