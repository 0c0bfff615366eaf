import { LATENCY_BUCKETS_S, type WorkerMetrics } from '../domain/worker-metrics.ts';

/** Counters and gauges in Prometheus' text format; the node's own, no client library. */
export class Metrics {
  private readonly counters = new Map<
    string,
    { help: string; type: 'counter' | 'gauge'; values: Map<string, number> }
  >();

  define(name: string, type: 'counter' | 'gauge', help: string): void {
    if (!this.counters.has(name)) this.counters.set(name, { help, type, values: new Map() });
  }

  add(name: string, by = 1, labels: Record<string, string> = {}): void {
    const m = this.counters.get(name);
    if (!m) throw new Error(`metric ${name} is not defined`);
    const key = labelText(labels);
    m.values.set(key, (m.values.get(key) ?? 0) + by);
  }

  set(name: string, value: number, labels: Record<string, string> = {}): void {
    const m = this.counters.get(name);
    if (!m) throw new Error(`metric ${name} is not defined`);
    m.values.set(labelText(labels), value);
  }

  text(): string {
    const lines: string[] = [];
    for (const [name, m] of this.counters) {
      lines.push(`# HELP ${name} ${m.help}`, `# TYPE ${name} ${m.type}`);
      if (m.values.size === 0) lines.push(`${name} 0`);
      for (const [labels, v] of m.values) lines.push(`${name}${labels} ${v}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The node's workers' counters, summed, in Prometheus' text format. */
export function workerMetricsText(m: WorkerMetrics): string {
  const l = m.deliveryLatency;
  const lines = [
    "# HELP tapedeck_recordings_active Recordings running in the node's workers",
    '# TYPE tapedeck_recordings_active gauge',
    `tapedeck_recordings_active ${m.activeRecordings}`,
    '# HELP tapedeck_snippets_delivered_total Snippets stored and announced',
    '# TYPE tapedeck_snippets_delivered_total counter',
    `tapedeck_snippets_delivered_total ${m.snippetsDelivered}`,
    '# HELP tapedeck_delivery_failures_total Snippets that failed their check (quarantined)',
    '# TYPE tapedeck_delivery_failures_total counter',
    `tapedeck_delivery_failures_total ${m.deliveryFailures}`,
    '# HELP tapedeck_recording_gaps_total Gaps announced after a recording was lost',
    '# TYPE tapedeck_recording_gaps_total counter',
    `tapedeck_recording_gaps_total ${m.recordingGaps}`,
    '# HELP tapedeck_delivery_latency_seconds Snippet closed by the muxer to stored',
    '# TYPE tapedeck_delivery_latency_seconds histogram',
    ...LATENCY_BUCKETS_S.map(
      (b) => `tapedeck_delivery_latency_seconds_bucket{le="${b}"} ${l.buckets[String(b)] ?? 0}`,
    ),
    `tapedeck_delivery_latency_seconds_bucket{le="+Inf"} ${l.count}`,
    `tapedeck_delivery_latency_seconds_sum ${l.sum.toFixed(3)}`,
    `tapedeck_delivery_latency_seconds_count ${l.count}`,
  ];
  return `${lines.join('\n')}\n`;
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
