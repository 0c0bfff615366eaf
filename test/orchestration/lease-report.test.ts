import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLeaseReport, LeaseBook } from '../../src/orchestration/lease-report.ts';

const T = { timeout: 5_000 };
const p = (lastSeq: number | null, atMs: number) => ({
  lastSeq,
  snippets: lastSeq === null ? 0 : lastSeq + 1,
  atMs,
});

test('the leases a worker held when it exited, with their progress as last reported', T, () => {
  const book = new LeaseBook(1_000);
  book.apply({
    type: 'lease-held',
    taskToken: 'A',
    handleId: 'h1',
    recordingId: 'host-a',
    progress: p(null, 1_100),
  });
  book.apply({
    type: 'lease-held',
    taskToken: 'B',
    handleId: 'h2',
    recordingId: 'composite',
    progress: p(3, 1_200),
  });
  book.apply({ type: 'lease-progress', handleId: 'h1', progress: p(0, 1_300) });
  book.apply({ type: 'lease-progress', handleId: 'h1', progress: p(1, 16_300) });
  // A new run of the workflow took the recording over: the old run's lease ended.
  book.apply({
    type: 'lease-held',
    taskToken: 'C',
    handleId: 'h2',
    recordingId: 'composite',
    progress: p(3, 17_000),
  });
  book.apply({ type: 'lease-ended', taskToken: 'B' });
  book.apply({ type: 'alive', atMs: 18_000 });
  assert.equal(book.size, 2);

  // Dated at the last sign of life, not at the exit the node saw later.
  const orphaned = book.orphaned(25_000);
  assert.deepEqual(orphaned, [
    { taskToken: 'A', recordingId: 'host-a', progress: p(1, 18_000) },
    { taskToken: 'C', recordingId: 'composite', progress: p(3, 18_000) },
  ]);
  assert.equal(book.size, 0);
  assert.deepEqual(book.orphaned(26_000), [], 'each lease is handed out once');
});

test('the progress of an orphaned lease is never dated after the exit', T, () => {
  const book = new LeaseBook(1_000);
  book.apply({
    type: 'lease-held',
    taskToken: 'A',
    handleId: 'h1',
    recordingId: 'host-a',
    progress: p(2, 5_000),
  });
  assert.equal(book.orphaned(4_000)[0]!.progress.atMs, 4_000);
});

test('only lease reports are taken from the channel', T, () => {
  assert.equal(isLeaseReport({ type: 'alive', atMs: 1 }), true);
  assert.equal(isLeaseReport({ type: 'lease-ended', taskToken: 'x' }), true);
  for (const other of [null, 'alive', 42, {}, { type: 'stats' }, { type: 1 }])
    assert.equal(isLeaseReport(other), false, JSON.stringify(other));
});
