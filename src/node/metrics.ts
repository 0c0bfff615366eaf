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

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
