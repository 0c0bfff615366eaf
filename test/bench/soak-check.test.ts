import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostAbsences, REJOIN_START_MS } from '../../src/bench/soak/collect.ts';
import { hostCloudEvent } from '../../src/domain/host-event.ts';
import type { HostEventType } from '../../src/domain/host-presence.ts';
import { snippetEventId } from '../../src/domain/snippet-event.ts';
import { snippetKey, type Variant } from '../../src/domain/snippet-key.ts';
import {
  checkTracks,
  mergeGaps,
  type AnnouncedGap,
  type ReadyEvent,
  type StoredObject,
} from '../../src/bench/soak/track-check.ts';

const LS = 'soak-1';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

interface Snip {
  track?: string;
  variant?: Variant;
  seq: number;
  startSec: number;
  lengthSec?: number;
  recovered?: boolean;
}

function make(snips: Snip[]): { objects: StoredObject[]; events: ReadyEvent[] } {
  const objects: StoredObject[] = [];
  const events: ReadyEvent[] = [];
  for (const s of snips) {
    const startMs = T0 + s.startSec * 1000;
    const key = snippetKey({
      livestreamId: LS,
      track: s.track ?? 'composite',
      variant: s.variant ?? 'mp4',
      startMs,
      seq: s.seq,
    });
    const sha256 = `${s.seq}`.padStart(64, 'a');
    objects.push({ key, bytes: 1000 + s.seq, sha256, playable: true });
    events.push({
      id: snippetEventId(key),
      key,
      sha256,
      bytes: 1000 + s.seq,
      startMs,
      endMs: startMs + (s.lengthSec ?? 15) * 1000,
      recovered: s.recovered ?? false,
    });
  }
  return { objects, events };
}

const run = (n: number, from = 0, startSec = 0): Snip[] =>
  Array.from({ length: n }, (_, i) => ({ seq: from + i, startSec: startSec + i * 15 }));

const gap = (fromSec: number, toSec: number, track = 'composite'): AnnouncedGap => ({
  livestreamId: LS,
  track,
  fromMs: T0 + fromSec * 1000,
  toMs: T0 + toSec * 1000,
});

describe('soak track check', () => {
  it(
    'passes a whole track, MP4 and MP3 switching with sub-second seams',
    { timeout: 5_000 },
    () => {
      const { objects, events } = make([
        ...run(4),
        { track: 'host-h1', seq: 0, startSec: 0 },
        { track: 'host-h1', seq: 1, startSec: 15, lengthSec: 7 },
        { track: 'host-h1', variant: 'mp3', seq: 0, startSec: 21.6 },
        { track: 'host-h1', variant: 'mp3', seq: 1, startSec: 36.6, lengthSec: 4 },
        { track: 'host-h1', seq: 2, startSec: 40.2 },
      ]);
      const r = checkTracks({ objects, events, gaps: [] });
      assert.equal(r.lostOutsideGaps, 0, JSON.stringify(r.findings));
      assert.equal(r.findings.length, 0);
      assert.equal(r.objects, 9);
      const h1 = r.tracks.find((t) => t.track === 'host-h1')!;
      assert.equal(h1.mp4, 3);
      assert.equal(h1.mp3, 2);
      assert.ok(Math.abs(h1.spanMs - 55_200) < 1);
    },
  );

  it(
    'a snippet missing where no gap was announced is lost; inside a gap it is not',
    { timeout: 5_000 },
    () => {
      const snips = run(5).filter((s) => s.seq !== 2);
      const { objects, events } = make(snips);
      const lost = checkTracks({ objects, events, gaps: [] });
      assert.equal(lost.lostOutsideGaps, 2, 'the number and the hole in time');
      assert.ok(lost.findings.some((f) => f.kind === 'lost' && /#2 missing/.test(f.what)));
      assert.ok(lost.findings.some((f) => /nothing recorded from/.test(f.what)));

      const covered = checkTracks({ objects, events, gaps: [gap(31, 44)] });
      assert.equal(covered.lostOutsideGaps, 0, JSON.stringify(covered.findings));
      assert.equal(covered.inGaps, 2);
      assert.equal(covered.tracks[0]!.missingInGaps, 1);
      assert.equal(covered.tracks[0]!.holesInGaps, 1);
    },
  );

  it(
    'a takeover: the cut snippet recovered, numbering going on after an announced gap',
    { timeout: 5_000 },
    () => {
      const { objects, events } = make([
        ...run(2),
        { seq: 2, startSec: 30, lengthSec: 4.2, recovered: true },
        // The next recording started 3 s after the kill, with the next number.
        { seq: 3, startSec: 37.4 },
        { seq: 4, startSec: 52.4 },
      ]);
      const r = checkTracks({ objects, events, gaps: [gap(33.9, 37.4)] });
      assert.equal(r.lostOutsideGaps, 0, JSON.stringify(r.findings));
      assert.equal(r.tracks[0]!.recovered, 1);
      assert.equal(r.tracks[0]!.holesInGaps, 1);
      // Without the announcement the 3 s hole is a loss.
      assert.equal(checkTracks({ objects, events, gaps: [] }).lostOutsideGaps, 1);
      // A gap on another track does not excuse this one.
      assert.equal(
        checkTracks({ objects, events, gaps: [gap(33.9, 37.4, 'host-h1')] }).lostOutsideGaps,
        1,
      );
    },
  );

  it(
    'numbers the workflows opened but nothing stored are lost, unless in a gap',
    { timeout: 5_000 },
    () => {
      const { objects, events } = make(run(3));
      const segments = [
        {
          livestreamId: LS,
          track: 'composite',
          variant: 'mp4' as const,
          firstSeq: 0,
          lastSeq: 4,
          startedAtMs: T0,
          endedAtMs: T0 + 75_000,
        },
      ];
      const r = checkTracks({ objects, events, gaps: [], segments });
      assert.equal(r.lostOutsideGaps, 2, JSON.stringify(r.findings));
      const inGap = checkTracks({ objects, events, gaps: [gap(46, 70)], segments });
      assert.equal(inGap.lostOutsideGaps, 0, JSON.stringify(inGap.findings));
    },
  );

  it(
    'finds unplayable objects, hash mismatches, unannounced objects and announced ones missing',
    { timeout: 5_000 },
    () => {
      const { objects, events } = make(run(4));
      objects[0] = { ...objects[0]!, playable: false, problem: 'no moov box' };
      objects[1] = { ...objects[1]!, sha256: 'f'.repeat(64) };
      const unannounced = events.splice(2, 1);
      const gone = objects.pop()!;
      const r = checkTracks({ objects, events, gaps: [] });
      assert.equal(r.unplayable, 1);
      assert.equal(r.shaMismatches, 1);
      assert.equal(r.unannounced, 1);
      assert.ok(r.findings.some((f) => f.what.includes(unannounced[0]!.key)));
      assert.ok(r.findings.some((f) => f.kind === 'lost' && f.what.startsWith(gone.key)));
      assert.ok(r.findings.some((f) => /no moov box/.test(f.what)));
    },
  );

  it(
    'finds duplicate events, duplicate numbers and overlapping recordings of one variant',
    { timeout: 5_000 },
    () => {
      const { objects, events } = make([
        ...run(3),
        // A second object with number 1 under another start time.
        { seq: 1, startSec: 16 },
      ]);
      events.push({ ...events[0]! });
      const r = checkTracks({ objects, events, gaps: [] });
      assert.equal(r.duplicateEvents, 1);
      assert.ok(r.duplicateObjects >= 1);
      assert.ok(r.findings.some((f) => /stored twice/.test(f.what)));

      const overlap = make([...run(2), { seq: 2, startSec: 20 }]);
      const o = checkTracks({ ...overlap, gaps: [] });
      assert.equal(o.duplicateObjects, 1);
      assert.match(o.findings[0]!.what, /overlap by 10\.0 s/);
    },
  );

  it('a hole while the host was away is neither a loss nor a gap', { timeout: 5_000 }, () => {
    const { objects, events } = make([
      { track: 'host-h1', seq: 0, startSec: 0 },
      { track: 'host-h1', seq: 1, startSec: 15, lengthSec: 5 },
      // Left at 20 s, joined again at 40 s: a new recording, the numbering going on.
      { track: 'host-h1', seq: 2, startSec: 41 },
    ]);
    const away = [gap(20, 40, 'host-h1')];
    const r = checkTracks({ objects, events, gaps: [], away });
    assert.equal(r.lostOutsideGaps, 0, JSON.stringify(r.findings));
    assert.equal(r.tracks[0]!.holesWhileAway, 1);
    assert.equal(checkTracks({ objects, events, gaps: [] }).lostOutsideGaps, 1);
  });

  it(
    'a host is away from its drop until it resumes, or joins again and its recording could start',
    { timeout: 5_000 },
    () => {
      const ev = (hostId: string, type: HostEventType, sec: number) =>
        hostCloudEvent(LS, { hostId, type, at: T0 + sec * 1000, cause: 'publish' });
      const away = hostAbsences([
        ev('h1', 'joined', 0),
        ev('h1', 'dropped', 10),
        ev('h1', 'resumed', 14),
        ev('h2', 'joined', 0),
        ev('h2', 'dropped', 10),
        ev('h2', 'left', 20),
        ev('h2', 'joined', 30),
        ev('h3', 'joined', 0),
        ev('h3', 'left', 50),
      ]);
      assert.deepEqual(
        away.map((a) => [a.track, (a.fromMs - T0) / 1000, (a.toMs - T0) / 1000]),
        [
          // Resumed within the grace: the same recording goes on, at once.
          ['host-h1', 10, 14],
          // Joined again: a new recording, which takes as long to start as the first one did.
          ['host-h2', 10, 30 + REJOIN_START_MS / 1000],
          ['host-h3', 50, (Number.MAX_SAFE_INTEGER - T0) / 1000],
        ],
      );
    },
  );

  it('merges gaps widened by the tolerance', { timeout: 5_000 }, () => {
    assert.deepEqual(
      mergeGaps(
        [
          { fromMs: 10_000, toMs: 12_000 },
          { fromMs: 0, toMs: 1_000 },
          { fromMs: 13_000, toMs: 14_000 },
        ],
        1_000,
      ),
      [
        { fromMs: -1_000, toMs: 2_000 },
        { fromMs: 9_000, toMs: 15_000 },
      ],
    );
  });
});
