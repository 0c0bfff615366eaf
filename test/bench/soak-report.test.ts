import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fdsMet,
  growthFigures,
  growthJudgeable,
  rssMet,
  type UsageSample,
} from '../../src/bench/soak/growth.ts';
import {
  formatSoakReport,
  soakOk,
  soakTargets,
  type FaultRecord,
  type SoakResult,
} from '../../src/bench/soak/report.ts';
import { countByKind } from '../../src/bench/soak/schedule.ts';
import type { TrackCheckResult } from '../../src/bench/soak/track-check.ts';

function sample(atSec: number, rssMiB: number, fds: number, quiet = true): UsageSample {
  return {
    atSec,
    rssKiB: { node: rssMiB * 512, workers: rssMiB * 256, media: rssMiB * 256 },
    fds: { node: fds - 20, workers: 10, media: 10 },
    fdKinds: { socket: fds - 40, pipe: 20, file: 15, other: 5 },
    mediaProcesses: 5,
    quiet,
  };
}

const cleanCheck: TrackCheckResult = {
  objects: 40,
  events: 40,
  gaps: 1,
  tracks: [
    {
      livestreamId: 'soak-1',
      track: 'composite',
      mp4: 8,
      mp3: 0,
      recovered: 1,
      missingInGaps: 0,
      holesInGaps: 1,
      holesWhileAway: 0,
      gaps: 1,
      gapMs: 2400,
      spanMs: 118_000,
    },
  ],
  lostOutsideGaps: 0,
  inGaps: 1,
  unplayable: 0,
  shaMismatches: 0,
  unannounced: 0,
  duplicateObjects: 0,
  duplicateEvents: 0,
  findings: [],
};

const fault = (over: Partial<FaultRecord> = {}): FaultRecord => ({
  index: 0,
  kind: 'store',
  target: 'versitygw 127.0.0.1:9000 (pid 42)',
  plannedAtSec: 21.8,
  atSec: 21.9,
  downSec: 5.3,
  backAfterSec: 5.6,
  recoveredAfterSec: 14.2,
  status: 'recovered',
  ...over,
});

describe('soak growth', () => {
  it(
    'compares medians after the warm-up, leaving out samples during faults',
    { timeout: 5_000 },
    () => {
      const samples = [
        sample(5, 300, 200), // warm-up: left out
        sample(30, 500, 210),
        sample(35, 510, 210),
        sample(40, 900, 400, false), // during a fault: left out
        sample(45, 505, 211),
        sample(100, 520, 212),
        sample(105, 530, 212),
        sample(110, 2000, 300), // one outlier in the end window: the median ignores it
      ];
      const g = growthFigures(samples, 20);
      assert.equal(g.samples, 6);
      assert.equal(g.baselineAtSec, 30);
      assert.equal(g.endAtSec, 110);
      assert.equal(g.rss.baselineMiB, 505);
      assert.equal(g.rss.endMiB, 530);
      assert.ok(Math.abs(g.rss.growthPct - (25 / 505) * 100) < 1e-9);
      assert.equal(g.fds.growth, 2);
      assert.deepEqual(g.fds.parts, { node: 2, workers: 0, media: 0 }, 'says where it grew');
      assert.deepEqual(g.fds.kinds, { socket: 2, pipe: 0, file: 0, other: 0 }, 'and in what');
      assert.ok(growthJudgeable(g));
      assert.ok(rssMet(g));
      assert.ok(fdsMet(g));
    },
  );

  it('misses on 10 % RSS growth or more than 5 new descriptors', { timeout: 5_000 }, () => {
    const base = [sample(30, 500, 200), sample(31, 500, 200), sample(32, 500, 200)];
    const grown = growthFigures([...base, ...[50, 51, 52].map((t) => sample(t, 550, 206))], 20);
    assert.ok(!rssMet(grown));
    assert.ok(!fdsMet(grown));
    assert.ok(!growthJudgeable(growthFigures(base, 20)), 'baseline and end would be the same');
  });
});

describe('soak report', () => {
  it('marks the targets, passing a clean run', { timeout: 5_000 }, () => {
    const growth = growthFigures(
      [30, 31, 32, 100, 101, 102].map((t) => sample(t, t < 50 ? 500 : 510, 200)),
      20,
    );
    const faults = [fault(), fault({ index: 1, kind: 'media-worker', downSec: 0 })];
    const targets = soakTargets({ minutes: 2, faultsEnabled: true }, faults, cleanCheck, growth);
    assert.deepEqual(
      targets.map((t) => [t.id, t.met]),
      [
        ['lost', true],
        ['unplayable', true],
        ['duplicates', true],
        ['sha256', true],
        ['rss', true],
        ['fds', true],
        ['fault-rate', true],
        ['recovery', true],
      ],
    );
    assert.ok(soakOk(targets, cleanCheck));
    const result: SoakResult = {
      seed: 7,
      minutes: 2,
      livestreams: 1,
      hosts: 4,
      faultsEnabled: true,
      store: 'S3 (versitygw 127.0.0.1:9000)',
      bus: 'NATS JetStream 127.0.0.1:4222',
      temporal: 'dev server 127.0.0.1:7233',
      ok: true,
      scoring: false,
      node: 'in-process',
      startedAt: '2026-01-01T12:00:00.000Z',
      publishedSec: 120,
      faults,
      hostReconnects: [],
      faultsByKind: countByKind(faults),
      check: cleanCheck,
      growth,
      targets,
    };
    const text = formatSoakReport(result);
    assert.match(text, /faults: 2 injected \(media-worker 1, store 1\)/);
    assert.match(
      text,
      /^\s+1\s+21\.9\s+store\s+versitygw 127\.0\.0\.1:9000 \(pid 42\)\s+5\.3\s+5\.6\s+14\.2\s+recovered$/m,
    );
    assert.match(text, /soak-1\/composite\s+8\s+0\s+1\s+1\s+2\.4\s+1\s+0\s+118\.0/);
    assert.match(text, /snippets lost outside announced gaps\s+0\s+0\s+met/);
    assert.match(text, /RSS 500\.0 → 510\.0 MiB \(2\.0 %/);
    assert.match(text, /result: every check passed/);
  });

  it(
    'fails a run with a lost snippet, a slow recovery or too few faults',
    { timeout: 5_000 },
    () => {
      const growth = growthFigures([], 20);
      const broken: TrackCheckResult = {
        ...cleanCheck,
        lostOutsideGaps: 1,
        findings: [{ kind: 'lost', track: 'soak-1/composite', what: 'mp4 #3 missing' }],
      };
      const faults = [fault({ status: 'not-recovered', recoveredAfterSec: null, note: 'late' })];
      const targets = soakTargets({ minutes: 3, faultsEnabled: true }, faults, broken, growth);
      const met = Object.fromEntries(targets.map((t) => [t.id, t.met]));
      assert.equal(met.lost, false);
      assert.equal(met.rss, null, 'not judged without samples');
      assert.equal(met['fault-rate'], false);
      assert.equal(met.recovery, false);
      assert.ok(!soakOk(targets, broken));
      // Nothing stored at all is a failure even when nothing else is wrong.
      const empty = { ...cleanCheck, objects: 0 };
      assert.ok(
        !soakOk(soakTargets({ minutes: 1, faultsEnabled: false }, [], empty, growth), empty),
      );
    },
  );
});
