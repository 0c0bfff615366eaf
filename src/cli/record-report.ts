import type { DeliveredSnippet } from '../delivery/deliverer.ts';
import type { WorkerEvent } from '../media/worker/protocol.ts';
import { drainDelivery, type DeliveryRuntime } from '../recorder/delivery-runtime.ts';

export interface SnippetLine {
  seq: number;
  key: string;
  /** Where the object is: a path (file store) or an s3:// URL. */
  location: string;
  bytes: number;
  sha256: string;
  durationSec: number;
  start: string;
  end: string;
  recovered: boolean;
  eventId: string;
  /** Seconds from the snippet's end (pipeline clock) to the store confirming it. */
  storedAfterSec: number;
}

export interface RecordResult {
  dataDir: string;
  store: string;
  bus: string;
  livestreamId: string;
  snippets: SnippetLine[];
  snippetsPending: number;
  eventsPending: number;
  quarantined: { path: string; reason: string }[];
  outputFailures: { output: string; message: string }[];
  stoppedEarly: boolean;
  hls?: string;
}

/** What `tapedeck record` tells the user while it runs: progress, deliveries, warnings. */
export class RecordReport {
  readonly quarantined: { path: string; reason: string }[] = [];
  private readonly snippets: DeliveredSnippet[] = [];
  private readonly tty: boolean;

  constructor(
    private readonly kind: string,
    private readonly durationSec: number,
    private readonly out: NodeJS.WriteStream,
    private readonly runtime: DeliveryRuntime,
  ) {
    this.tty = Boolean(out.isTTY);
    runtime.deliverer.on('delivered', (s) => {
      this.snippets.push(s);
      this.line(
        `delivered ${s.key} (${(s.bytes / 1e6).toFixed(2)} MB, ${((s.storedAtMs - s.endUtcMs) / 1000).toFixed(2)} s after its end${s.recovered ? ', recovered after a crash' : ''})`,
      );
    });
    runtime.deliverer.on('quarantined', (q) => {
      this.quarantined.push(q);
      this.warn(`set aside ${q.path}: ${q.reason}`);
    });
    runtime.deliverer.on('warning', (m) => this.warn(m));
    runtime.outbox.on('warning', (w) => this.warn(w.message));
    runtime.outbox.on('recovered', ({ pending, failedForMs }) =>
      this.line(
        `bus ${runtime.bus.describe} is back after ${(failedForMs / 1000).toFixed(0)} s; publishing ${pending} waiting events`,
      ),
    );
  }

  warn(message: string): void {
    this.line(`warning: ${message}`);
  }

  private line(text: string): void {
    this.out.write(`${this.tty ? '\r\x1b[K' : ''}${text}\n`);
  }

  workerEvent(event: WorkerEvent): void {
    if (event.event === 'output-failed')
      this.warn(
        `${event.data.output.toUpperCase()} output failed: ${event.data.message}` +
          (event.data.retryInMs > 0
            ? ` (retrying in ${event.data.retryInMs / 1000} s; the recording goes on)`
            : ''),
      );
    else if (event.event === 'output-restored')
      this.line(`${event.data.output.toUpperCase()} output reconnecting`);
    else if (event.event === 'warning') this.warn(`${event.data.source}: ${event.data.message}`);
    else if (event.event === 'error')
      this.line(`error: ${event.data.source}: ${event.data.message}`);
  }

  progress({ elapsedSec }: { elapsedSec: number }): void {
    const line =
      `recording ${this.kind} · ${elapsedSec.toFixed(0)}/${this.durationSec} s · ` +
      `${this.snippets.length} delivered · ${this.runtime.deliverer.pendingCount()} in spool · ` +
      `${this.runtime.outbox.pending()} events pending`;
    if (this.tty) this.out.write(`\r\x1b[K${line}`);
    else if (Math.round(elapsedSec) % 10 === 0) this.out.write(`${line}\n`);
  }

  /** Waits for the spool and the outbox to empty, saying what it waits for; leaves the rest on disk. */
  async finishDelivery(
    timeoutMs: number,
  ): Promise<{ snippetsPending: number; eventsPending: number }> {
    const { deliverer, outbox } = this.runtime;
    const deadline = Date.now() + timeoutMs;
    const ticker = setInterval(() => {
      this.line(
        `waiting for delivery: ${deliverer.pendingCount()} snippets, ${outbox.pending()} events (up to ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s more)`,
      );
    }, 5000);
    let pending;
    try {
      pending = await drainDelivery(this.runtime, timeoutMs);
    } finally {
      clearInterval(ticker);
    }
    const { snippetsPending, eventsPending } = pending;
    if (snippetsPending || eventsPending)
      this.warn(
        `${snippetsPending} snippets and ${eventsPending} events are still waiting in ${this.runtime.dataDir}; ` +
          'they go out with the next tapedeck record or tapedeck deliver with the same --out',
      );
    return { snippetsPending, eventsPending };
  }

  delivered(): SnippetLine[] {
    return [...this.snippets]
      .sort((a, b) => a.seq - b.seq)
      .map((s) => ({
        seq: s.seq,
        key: s.key,
        location: this.runtime.store.locate(s.key),
        bytes: s.bytes,
        sha256: s.sha256,
        durationSec: s.durationMs / 1000,
        start: new Date(s.startUtcMs).toISOString(),
        end: new Date(s.endUtcMs).toISOString(),
        recovered: s.recovered,
        eventId: s.eventId,
        storedAfterSec: (s.storedAtMs - s.endUtcMs) / 1000,
      }));
  }
}

export function formatSummary(r: RecordResult): string {
  const rows = r.snippets.map(
    (s) =>
      `  ${String(s.seq).padStart(6, '0')}  ${s.durationSec.toFixed(3).padStart(8)} s  ${(s.bytes / 1e6).toFixed(2).padStart(7)} MB  ${s.key}${s.recovered ? '  (recovered)' : ''}`,
  );
  return (
    `${r.snippets.length} snippets delivered to ${r.store}, events on ${r.bus}${r.stoppedEarly ? ' (stopped early)' : ''}:\n` +
    `     seq  duration        size  key\n${rows.join('\n')}\n` +
    (r.snippetsPending || r.eventsPending
      ? `still waiting in ${r.dataDir}: ${r.snippetsPending} snippets, ${r.eventsPending} events\n`
      : '') +
    (r.quarantined.length
      ? `set aside (see the .reason.txt files): ${r.quarantined.map((q) => q.path).join(', ')}\n`
      : '') +
    (r.hls ? `HLS playlist: ${r.hls}\n` : '') +
    (r.outputFailures.length
      ? `live output failures: ${r.outputFailures.length} (see warnings above)\n`
      : '')
  );
}
