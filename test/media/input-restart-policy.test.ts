import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withInjectedFault } from '../../src/media/worker/fault-injection.ts';
import {
  INPUT_RESTART_FIRST_MS,
  INPUT_RESTART_MAX_MS,
  INPUT_RESTART_SETTLED_MS,
  nextRestartDelayMs,
} from '../../src/media/worker/input-restart.ts';

test('an input that keeps failing waits twice as long each time, up to a ceiling; one that held starts over', () => {
  assert.equal(nextRestartDelayMs(undefined, 1000), INPUT_RESTART_FIRST_MS);
  let last = { delayMs: INPUT_RESTART_FIRST_MS, atMs: 0 };
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const delayMs = nextRestartDelayMs(last, last.atMs + 1000);
    delays.push(delayMs);
    last = { delayMs, atMs: last.atMs + 1000 + delayMs };
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
  assert.ok(delays.every((d) => d <= INPUT_RESTART_MAX_MS));
  assert.equal(
    nextRestartDelayMs({ delayMs: 8000, atMs: 0 }, INPUT_RESTART_SETTLED_MS),
    INPUT_RESTART_FIRST_MS,
  );
});

test('the injected camera fault goes in front of that input camera queue, once, and only when asked', () => {
  const fragments = [
    'videotestsrc ! queue name=in_h1_v max-size-time=1',
    'audiotestsrc ! queue name=in_h1_a',
  ];
  assert.deepEqual(withInjectedFault('h1', 'in_h1_v', fragments, {}), fragments);
  assert.deepEqual(
    withInjectedFault('h1', 'in_h1_v', fragments, { TAPEDECK_FAULT_INPUT_ERROR: 'h2:30' }),
    fragments,
  );
  assert.deepEqual(
    withInjectedFault('h1', 'in_h1_v', fragments, { TAPEDECK_FAULT_INPUT_ERROR: 'h1:zero' }),
    fragments,
  );
  const env = { TAPEDECK_FAULT_INPUT_ERROR: 'h1:30' };
  assert.equal(
    withInjectedFault('h1', 'in_h1_v', fragments, env)[0],
    'videotestsrc ! identity name=in_h1_v_fault error-after=30 ! queue name=in_h1_v max-size-time=1',
  );
  // Once per process: the input attached again runs without it.
  assert.deepEqual(withInjectedFault('h1', 'in_h1_v', fragments, env), fragments);
});
