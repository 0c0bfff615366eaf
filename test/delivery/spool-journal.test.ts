import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldJournal, type JournalEntry } from '../../src/delivery/spool-journal.ts';

const lines = (...entries: JournalEntry[]) => entries.map((e) => JSON.stringify(e)).join('\n');
const session: JournalEntry = {
  t: 'session',
  at: '2026-12-01T00:00:00.000Z',
  livestreamId: 'show-1',
  recordingId: 'host-h1-mp4',
  track: 'host-h1',
  variant: 'mp4',
  media: { video: null, audio: { codec: 'aac', sampleRate: 48000, channels: 2, bitrateKbps: 44 } },
};

test(
  'the last hold entry decides, and a new session of the folder starts unheld',
  { timeout: 5_000 },
  () => {
    assert.equal(foldJournal(lines(session)).hold, 'none');
    assert.equal(foldJournal(lines(session, { t: 'held' })).hold, 'held');
    assert.equal(foldJournal(lines(session, { t: 'held' }, { t: 'released' })).hold, 'released');
    assert.equal(foldJournal(lines(session, { t: 'held' }, { t: 'discarded' })).hold, 'discarded');
    assert.equal(foldJournal(lines(session, { t: 'held' }, { t: 'ended' }, session)).hold, 'none');
    // A line torn by a crash is not a decision.
    assert.equal(foldJournal(`${lines(session, { t: 'held' })}\n{"t":"rel`).hold, 'held');
  },
);

test(
  "a closed snippet's recorded pictures outlive a restart in the journal",
  { timeout: 5_000 },
  () => {
    const pictures = [
      { atSec: 0, lumaMean: 16, lumaStdDev: 0, lumaChange: 0 },
      { atSec: 0.533, lumaMean: 16, lumaStdDev: 0, lumaChange: 0 },
    ];
    const closed = { seq: 0, file: 'h_000000.mp4', startUtcNs: '1000', endUtcNs: '2000' };
    const state = foldJournal(
      lines(session, { t: 'closed', ...closed, pictures }, { t: 'closed', ...closed, seq: 1 }),
    );
    assert.deepEqual(state.closed.get(0)?.pictures, pictures);
    assert.equal(state.closed.get(1)?.pictures, undefined, 'a worker that took none');
  },
);
