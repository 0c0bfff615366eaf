import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  waitWhileStopping,
  type LeaseContext,
} from '../../src/orchestration/activities/lease-wait.ts';

class Cancelled extends Error {}

/** A context like Temporal's: once cancelled, sleep and `cancelled` reject at once. */
function context() {
  let cancel!: (err: Error) => void;
  const cancelled = new Promise<never>((_, reject) => (cancel = reject));
  cancelled.catch(() => undefined);
  let isCancelled = false;
  const beats: unknown[] = [];
  const ctx: LeaseContext = {
    heartbeat(details) {
      beats.push(details);
      // A wait that loops on a cancelled context would never end: stop it here instead.
      if (beats.length > 100) throw new Error('heartbeating without end');
    },
    sleep: (ms) =>
      isCancelled
        ? Promise.reject(new Cancelled('cancelled'))
        : Promise.race([new Promise<void>((r) => setTimeout(r, ms)), cancelled]),
    cancelled,
  };
  return {
    ctx,
    beats,
    cancel() {
      isCancelled = true;
      cancel(new Cancelled('cancelled'));
    },
  };
}

test(
  'a lease waits for its recording to finish, heartbeating, and returns its result',
  { timeout: 10_000 },
  async () => {
    const { ctx, beats } = context();
    let n = 0;
    const result = await waitWhileStopping(
      ctx,
      new Promise((r) => setTimeout(() => r('done'), 120)),
      () => ({ beat: ++n }),
      20,
    );
    assert.equal(result, 'done');
    assert.ok(beats.length >= 3 && beats.length <= 10, `${beats.length} heartbeats`);
  },
);

test(
  'a recording that fails to finish fails its lease with that error',
  { timeout: 10_000 },
  async () => {
    const { ctx } = context();
    await assert.rejects(
      waitWhileStopping(ctx, Promise.reject(new Error('EOS never came')), () => null, 20),
      /EOS never came/,
    );
  },
);

test(
  'a lease cancelled while its recording finishes ends at once with the cancellation',
  { timeout: 10_000 },
  async () => {
    const { ctx, beats, cancel } = context();
    // The recording finishes only later; the lease is cancelled before (a run gone on as new).
    const stopping = new Promise((r) => setTimeout(() => r('done'), 2_000));
    const waiting = waitWhileStopping(ctx, stopping, () => null, 1_000);
    await new Promise((r) => setTimeout(r, 50));
    cancel();
    await assert.rejects(waiting, Cancelled);
    assert.ok(beats.length <= 2, `${beats.length} heartbeats`);
  },
);

test(
  'a lease already cancelled when its recording starts finishing ends at once too',
  { timeout: 10_000 },
  async () => {
    const { ctx, beats, cancel } = context();
    cancel();
    await assert.rejects(
      waitWhileStopping(ctx, new Promise(() => undefined), () => null, 1_000),
      Cancelled,
    );
    assert.equal(beats.length, 1);
  },
);
