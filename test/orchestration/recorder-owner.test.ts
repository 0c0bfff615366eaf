import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidId } from '../../src/domain/ids.ts';
import { workerTaskQueue } from '../../src/domain/recording-plan.ts';
import { recorderOwner } from '../../src/orchestration/activities/node-activities.ts';

test(
  'a recording attaches under a name of its worker process: two processes never share one',
  { timeout: 5_000 },
  () => {
    const w0 = workerTaskQueue('node1', 0);
    const w1 = workerTaskQueue('node1', 1);
    assert.equal(recorderOwner('host-h1-mp4', w0), recorderOwner('host-h1-mp4', w0));
    assert.notEqual(recorderOwner('host-h1-mp4', w0), recorderOwner('host-h1-mp4', w1));
    assert.notEqual(recorderOwner('composite', w0), recorderOwner('host-h1-mp4', w0));
    assert.ok(isValidId(recorderOwner('composite', w1)));
    // Long host ids still make a valid id, still one per process.
    const long = `host-${'x'.repeat(64)}-mp4`;
    assert.ok(isValidId(recorderOwner(long, w0)), recorderOwner(long, w0));
    assert.notEqual(recorderOwner(long, w0), recorderOwner(long, w1));
  },
);
