import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soundLateLine, type SoundLateState } from '../../src/bench/system/sound-late-watch.ts';

test(
  'late sound is said on crossing, every 5 s while it lasts, and on return',
  { timeout: 5_000 },
  () => {
    const state: SoundLateState = { flagged: false, lastLineMs: 0 };
    const h2 = (ms: number) => ({ who: 'h2 of ls', ms });
    assert.equal(soundLateLine(state, null, 0), null);
    assert.equal(soundLateLine(state, h2(120), 1_000), null);
    assert.equal(
      soundLateLine(state, h2(850.4), 2_000),
      "ingest: the hosts' sound reaches it up to 850 ms behind its RTP time (h2 of ls)",
    );
    assert.equal(soundLateLine(state, h2(900), 3_000), null);
    assert.match(soundLateLine(state, h2(1_200), 7_000) ?? '', /up to 1200 ms/);
    assert.equal(
      soundLateLine(state, h2(40), 8_000),
      "ingest: the hosts' sound is back within 300 ms of its RTP time",
    );
    assert.equal(soundLateLine(state, h2(40), 9_000), null);
  },
);
