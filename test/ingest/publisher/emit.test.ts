import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runOk } from '../../support/run.ts';
import { ROOT } from '../../support/tapedeck.ts';

// Six threads at once, as GStreamer's streaming threads and the main loop report state changes.
const RACE = `
import sys, threading
sys.path.insert(0, sys.argv[1])
from whip_client import emit
def run(n):
    for i in range(3000):
        emit("tick", thread=n, i=i)
threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
for t in threads: t.start()
for t in threads: t.join()
`;

test(
  'publisher events from several threads at once stay one JSON object a line',
  {
    timeout: 60_000,
  },
  async () => {
    const dir = join(ROOT, 'src/ingest/publisher');
    const { stdout } = await runOk('/usr/bin/python3', ['-c', RACE, dir], { timeoutMs: 50_000 });
    const lines = stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 18_000);
    const broken = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(broken.slice(0, 3), [], `${broken.length} lines are not one JSON object`);
  },
);
