import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopDelayWatch, STALL_MS } from '../../src/bench/system/loop-delay.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function holdLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test(
  'a loop held up past the stall threshold is reported with its length and time',
  { timeout: 10_000 },
  async () => {
    const seen: { atMs: number; ms: number }[] = [];
    const watch = new LoopDelayWatch((atMs, ms) => seen.push({ atMs, ms }));
    await pause(200);
    const heldAt = Date.now();
    holdLoop(STALL_MS + 300);
    await pause(200);
    const d = watch.stop();
    const stall = d.stalls.find((s) => s.ms >= STALL_MS + 200);
    assert.ok(stall, `a stall of about ${STALL_MS + 300} ms, saw ${JSON.stringify(d.stalls)}`);
    assert.ok(
      Math.abs(stall.atMs - heldAt) < 250,
      `dated to the hold: ${stall.atMs - heldAt} ms off`,
    );
    assert.deepEqual(seen, d.stalls);
    assert.ok(d.maxMs >= STALL_MS + 200, `histogram max ${d.maxMs} ms`);
    assert.ok(d.p99Ms <= d.maxMs);
  },
);
