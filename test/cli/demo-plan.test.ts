import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoCameraScript, demoImpairments } from '../../src/cli/demo.ts';
import { checkImpairments } from '../../src/domain/impairment-plan.ts';

test(
  'the demo impairs host 3 by default: black for 10 s from a quarter of the run, then silence',
  { timeout: 5_000 },
  () => {
    assert.deepEqual(demoImpairments(60), [
      { host: 3, kind: 'black', fromSec: 15, toSec: 25 },
      { host: 3, kind: 'silence', fromSec: 25, toSec: 35 },
    ]);
    // A short run keeps what fits and is long enough to be found (3 s).
    assert.deepEqual(demoImpairments(10), [{ host: 3, kind: 'black', fromSec: 3, toSec: 10 }]);
    for (const d of [10, 30, 60, 600]) {
      checkImpairments(demoImpairments(d));
      // Host 3 keeps its camera on throughout, so its reviews are MP4 clips.
      assert.ok(demoCameraScript(d).every((s) => s.host !== 3));
    }
  },
);
