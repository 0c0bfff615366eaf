import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { SoakResult } from '../../src/bench/soak/report.ts';
import { killAllTracked } from '../support/children.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { lastJsonLine, tapedeck } from '../support/tapedeck.ts';

const skip = privateNetworkOnly('the soak');
if (skip) console.log(`skipping the soak: ${skip}`);

// The soak stops what it started; should it hang, its whole process group goes with the test, and
// the servers it started end with it (their guards watch it).
after(() => killAllTracked());

// Two minutes of publishing, about a minute to start the node and its workers before and to
// settle and read everything back after, on two busy cores.
const RUN_MS = 225_000;

test(
  'bench soak: 2 minutes, a media worker killed and a host dropped, every track checked and whole',
  { timeout: RUN_MS + 15_000, skip },
  async () => {
    const r = await tapedeck(
      [
        'bench',
        'soak',
        '--minutes',
        '2',
        '--faults',
        '--kinds',
        'media-worker,host-drop',
        '--fault-every',
        '30',
        '--seed',
        '3',
        '--json',
      ],
      { timeoutMs: RUN_MS },
    );
    const result = lastJsonLine<SoakResult>(r.stdout);
    const failed = result.targets.filter((t) => t.met === false);
    const why = `${JSON.stringify(failed)}\n${JSON.stringify(result.faults)}\n${JSON.stringify(result.check.findings)}\n${r.stderr.slice(-4000)}`;
    assert.equal(r.code, 0, why);
    assert.equal(result.ok, true, why);

    // Seed 3 plans a media worker kill, then a host drop; both happen and both recover.
    const injected = result.faults.filter((f) => f.atSec !== null);
    assert.deepEqual(
      injected.map((f) => f.kind),
      ['media-worker', 'host-drop'],
      JSON.stringify(result.faults),
    );
    for (const f of injected) {
      assert.equal(f.status, 'recovered', JSON.stringify(f));
      assert.ok(f.backAfterSec !== null, JSON.stringify(f));
      assert.ok(f.recoveredAfterSec !== null && f.recoveredAfterSec >= f.backAfterSec);
    }
    assert.equal(result.faultsByKind['media-worker'], 1);
    assert.equal(result.faultsByKind['host-drop'], 1);

    // Five tracks, each with snippets; the store and the bus agree one to one.
    const c = result.check;
    assert.equal(c.tracks.length, 5, JSON.stringify(c.tracks));
    for (const t of c.tracks) assert.ok(t.mp4 + t.mp3 >= 4, JSON.stringify(t));
    const stored = c.tracks.reduce((s, t) => s + t.mp4 + t.mp3, 0);
    assert.equal(stored, c.objects);
    assert.equal(c.events, c.objects, 'one snippet.ready event per object');
    assert.equal(c.lostOutsideGaps, 0);
    assert.equal(c.unplayable, 0);
    assert.equal(c.shaMismatches + c.unannounced, 0);
    assert.equal(c.duplicateObjects + c.duplicateEvents, 0);
    assert.deepEqual(c.findings, []);
    // The killed media worker held a recording: its track announced the gap it left, and what
    // it had written was recovered from the spool.
    assert.ok(c.gaps >= 1, JSON.stringify(c.tracks));
    assert.ok(
      c.tracks.some((t) => t.gaps >= 1 && t.recovered >= 1),
      JSON.stringify(c.tracks),
    );

    // The report on stdout says the same, and every target was judged.
    assert.match(r.stdout, /result: every check passed/);
    for (const id of ['lost', 'unplayable', 'duplicates', 'sha256', 'fault-rate', 'recovery'])
      assert.equal(result.targets.find((t) => t.id === id)?.met, true, id);
  },
);
