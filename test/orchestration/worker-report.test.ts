import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWorkerReport, WorkerBook } from '../../src/orchestration/worker-report.ts';

const T = { timeout: 5_000 };
const p = (lastSeq: number | null, atMs: number) => ({
  lastSeq,
  snippets: lastSeq === null ? 0 : lastSeq + 1,
  atMs,
});
const held = (
  taskToken: string,
  handleId: string,
  recordingId: string,
  progress: ReturnType<typeof p>,
) => ({ type: 'lease-held' as const, taskToken, handleId, recordingId, progress });

test('the leases a worker held when it exited, with their progress as last reported', T, () => {
  const book = new WorkerBook(1_000);
  book.apply(held('A', 'h1', 'host-a', p(null, 1_100)));
  book.apply(held('B', 'h2', 'composite', p(3, 1_200)));
  book.apply({ type: 'lease-progress', handleId: 'h1', progress: p(0, 1_300) });
  book.apply({ type: 'lease-progress', handleId: 'h1', progress: p(1, 16_300) });
  // A new run of the workflow took the recording over: the old run's lease ended.
  book.apply(held('C', 'h2', 'composite', p(3, 17_000)));
  book.apply({ type: 'lease-ended', taskToken: 'B' });
  book.apply({ type: 'alive', atMs: 18_000 });
  assert.equal(book.leases, 2);

  // Dated at the last sign of life, not at the exit the node saw later.
  const orphaned = book.orphaned(25_000);
  assert.deepEqual(orphaned.leases, [
    { taskToken: 'A', recordingId: 'host-a', progress: p(1, 18_000) },
    { taskToken: 'C', recordingId: 'composite', progress: p(3, 18_000) },
  ]);
  assert.equal(book.leases, 0);
  assert.deepEqual(book.orphaned(26_000).leases, [], 'each lease is handed out once');
});

test('the RTP copies a worker had attached when it exited', T, () => {
  const book = new WorkerBook(0);
  const a = { livestreamId: 'ls', hostId: 'h1', owner: 'host-h1-mp4_0' };
  const b = { livestreamId: 'ls', hostId: 'h1', owner: 'composite_0' };
  const c = { livestreamId: 'ls', hostId: 'h2', owner: 'composite_0' };
  for (const x of [a, b, c]) book.apply({ type: 'attached', ...x });
  // Attached again under the same owner (a restarted recording): still one copy.
  book.apply({ type: 'attached', ...a });
  book.apply({ type: 'detached', ...b });
  assert.equal(book.attachments, 2);
  assert.deepEqual(book.orphaned(1_000).attachments, [a, c]);
  assert.deepEqual(book.orphaned(2_000).attachments, []);
});

test('the progress of an orphaned lease is never dated after the exit', T, () => {
  const book = new WorkerBook(1_000);
  book.apply(held('A', 'h1', 'host-a', p(2, 5_000)));
  assert.equal(book.orphaned(4_000).leases[0]!.progress.atMs, 4_000);
});

test('only worker reports are taken from the channel', T, () => {
  assert.equal(isWorkerReport({ type: 'alive', atMs: 1 }), true);
  assert.equal(isWorkerReport({ type: 'lease-ended', taskToken: 'x' }), true);
  assert.equal(
    isWorkerReport({ type: 'attached', livestreamId: 'l', hostId: 'h', owner: 'o' }),
    true,
  );
  for (const other of [null, 'alive', 42, {}, { type: 'stats' }, { type: 1 }])
    assert.equal(isWorkerReport(other), false, JSON.stringify(other));
});
