/** What a media worker process counts, reported to its node (counters since the process started). */
export interface WorkerMetrics {
  pid: number;
  activeRecordings: number;
  snippetsDelivered: number;
  deliveryFailures: number;
  recordingGaps: number;
  /** Snippet closed by the muxer → object stored, in seconds: counts per upper bound. */
  deliveryLatency: { buckets: Record<string, number>; count: number; sum: number };
}

export const LATENCY_BUCKETS_S = [0.25, 0.5, 1, 1.5, 2, 5, 10, 30];

export function emptyWorkerMetrics(pid: number): WorkerMetrics {
  return {
    pid,
    activeRecordings: 0,
    snippetsDelivered: 0,
    deliveryFailures: 0,
    recordingGaps: 0,
    deliveryLatency: {
      buckets: Object.fromEntries(LATENCY_BUCKETS_S.map((b) => [String(b), 0])),
      count: 0,
      sum: 0,
    },
  };
}

export function observeLatency(m: WorkerMetrics, seconds: number): void {
  for (const b of LATENCY_BUCKETS_S) if (seconds <= b) m.deliveryLatency.buckets[String(b)]! += 1;
  m.deliveryLatency.count += 1;
  m.deliveryLatency.sum += seconds;
}

/**
 * A node's view over its workers' reports: counters of processes that ended stay counted, so a
 * restarted worker never makes a total go down; gauges come from the processes alive now.
 */
export class NodeMetricsBook {
  private readonly latest = new Map<number, WorkerMetrics>();
  private readonly slotPid = new Map<number, number>();
  private retired = emptyWorkerMetrics(0);

  report(slot: number, m: WorkerMetrics): void {
    const before = this.slotPid.get(slot);
    if (before !== undefined && before !== m.pid) {
      const old = this.latest.get(before);
      if (old) this.retired = sum(this.retired, { ...old, activeRecordings: 0 });
      this.latest.delete(before);
    }
    this.slotPid.set(slot, m.pid);
    this.latest.set(m.pid, m);
  }

  total(): WorkerMetrics {
    let t = { ...this.retired, activeRecordings: 0 };
    for (const m of this.latest.values()) t = sum(t, m);
    return t;
  }
}

function sum(a: WorkerMetrics, b: WorkerMetrics): WorkerMetrics {
  const buckets: Record<string, number> = {};
  for (const k of LATENCY_BUCKETS_S.map(String))
    buckets[k] = (a.deliveryLatency.buckets[k] ?? 0) + (b.deliveryLatency.buckets[k] ?? 0);
  return {
    pid: 0,
    activeRecordings: a.activeRecordings + b.activeRecordings,
    snippetsDelivered: a.snippetsDelivered + b.snippetsDelivered,
    deliveryFailures: a.deliveryFailures + b.deliveryFailures,
    recordingGaps: a.recordingGaps + b.recordingGaps,
    deliveryLatency: {
      buckets,
      count: a.deliveryLatency.count + b.deliveryLatency.count,
      sum: a.deliveryLatency.sum + b.deliveryLatency.sum,
    },
  };
}
