import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  emptyWorkerMetrics,
  NodeMetricsBook,
  observeLatency,
} from '../../src/domain/worker-metrics.ts';

test('latency lands in every bucket at or above it', () => {
  const m = emptyWorkerMetrics(1);
  observeLatency(m, 0.7);
  assert.equal(m.deliveryLatency.buckets['0.5'], 0);
  assert.equal(m.deliveryLatency.buckets['1'], 1);
  assert.equal(m.deliveryLatency.buckets['30'], 1);
  assert.equal(m.deliveryLatency.count, 1);
});

test("a restarted worker's counters add to its predecessor's; gauges are the live processes'", () => {
  const book = new NodeMetricsBook();
  book.report(0, { ...emptyWorkerMetrics(100), activeRecordings: 3, snippetsDelivered: 10 });
  book.report(1, { ...emptyWorkerMetrics(200), activeRecordings: 2, snippetsDelivered: 4 });
  assert.deepEqual([book.total().activeRecordings, book.total().snippetsDelivered], [5, 14]);
  // Slot 0 restarted: a new pid, counting from zero.
  book.report(0, {
    ...emptyWorkerMetrics(300),
    activeRecordings: 1,
    snippetsDelivered: 2,
    recordingGaps: 3,
  });
  const t = book.total();
  assert.deepEqual([t.activeRecordings, t.snippetsDelivered, t.recordingGaps], [3, 16, 3]);
  // A later report of the same process replaces its earlier one.
  book.report(0, {
    ...emptyWorkerMetrics(300),
    activeRecordings: 1,
    snippetsDelivered: 5,
    recordingGaps: 3,
  });
  assert.equal(book.total().snippetsDelivered, 19);
});
