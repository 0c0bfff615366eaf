import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { watchProcessTable } from '../../src/bench/system/process-table.ts';

test('a launcher that execs is counted as what it runs', { timeout: 20_000 }, async () => {
  const table = watchProcessTable(process.pid, () => [], 100);
  // The shell is sampled first; after the exec the same pid runs a GStreamer tool.
  const child = spawn(
    '/bin/sh',
    ['-c', 'sleep 0.5; exec gst-launch-1.0 -q audiotestsrc is-live=true num-buffers=50 ! fakesink'],
    { stdio: 'ignore' },
  );
  let rows: ReturnType<typeof table.stop> = [];
  try {
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  } finally {
    rows = table.stop();
    child.kill('SIGKILL');
  }
  const row = rows.find((r) => r.pid === child.pid);
  assert.ok(row, `no row for pid ${child.pid}`);
  assert.equal(row.role, 'GStreamer tool', row.command);
  assert.match(row.command, /^gst-launch-1\.0 /);
});
