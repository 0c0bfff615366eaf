import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeliveredSnippet } from '../delivery/deliverer.ts';
import { defaultProfile } from '../domain/profile.ts';
import type { SyntheticSource } from '../media/pipeline/spec.ts';
import { syntheticHost } from '../media/synthetic-recording.ts';
import { parseDeliveryConfig, startDelivery } from '../recorder/delivery-runtime.ts';
import { recordAndDeliver } from '../recorder/record-and-deliver.ts';
import { startLocalS3 } from './local-s3.ts';
import { spread, type Spread } from './stats.ts';

export interface AvailabilityRun {
  store: string;
  bus: string;
  /** Whole snippets measured (the short last snippet of each recording is left out). */
  snippets: number;
  meanBytes: number;
  /** Seconds from a snippet's end (pipeline clock) to the store confirming its object. */
  stored: Spread;
  /** Seconds from a snippet's end to a subscriber on the bus receiving its event. */
  announced: Spread;
  /** The parts of `stored`: the muxer closing the file, waiting for inotify or a free slot, the upload. */
  closing: Spread;
  waiting: Spread;
  uploading: Spread;
}

export interface AvailabilityOptions {
  store: 'file' | 's3' | string;
  busUrl?: string;
  tracks: number;
  minSnippets: number;
  snippetSeconds: number;
  pattern: SyntheticSource['pattern'];
  onProgress?: (text: string) => void;
}

/**
 * Records `tracks` host recordings at once through the real path (media worker → spool → inotify
 * and fragment-closed → store → outbox → bus) and times every whole snippet.
 */
export async function runAvailability(o: AvailabilityOptions): Promise<AvailabilityRun> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tapedeck-bench-delivery-'));
  const localS3 = o.store === 's3' ? await startLocalS3() : null;
  try {
    const storeUrl = o.store === 'file' ? undefined : localS3 ? localS3.url : o.store;
    const config = {
      dataDir,
      storeUrl,
      busUrl: o.busUrl,
      env: { ...process.env, ...(localS3?.env ?? {}) },
    };
    const runtime = await startDelivery(config, await parseDeliveryConfig(config));
    const delivered: DeliveredSnippet[] = [];
    const received = new Map<string, number>();
    runtime.deliverer.on('delivered', (d) => {
      delivered.push(d);
      o.onProgress?.(
        `${delivered.length} delivered, last ${((d.storedAtMs - d.endUtcMs) / 1000).toFixed(2)} s after its end`,
      );
    });
    const sub = await runtime.bus.subscribe(
      { name: `bench-${process.pid}`, startAt: 'new' },
      async (d) => {
        if (!received.has(d.event.id)) received.set(d.event.id, Date.now());
        await d.ack();
      },
    );
    try {
      const perTrack = Math.ceil(o.minSnippets / o.tracks);
      const durationSec = perTrack * o.snippetSeconds + 3;
      const profile = {
        ...defaultProfile({ width: 640, height: 360 }),
        snippetSeconds: o.snippetSeconds,
      };
      await Promise.all(
        Array.from({ length: o.tracks }, (_, i) =>
          recordAndDeliver({
            livestreamId: 'bench',
            spec: {
              kind: 'host',
              recordingId: `host-h${i + 1}`,
              profile,
              inputs: [syntheticHost(i + 1, o.pattern)],
            },
            deliverer: runtime.deliverer,
            durationSec,
            pattern: o.pattern,
          }),
        ),
      );
      await runtime.deliverer.drain(120_000);
      await runtime.outbox.drain(120_000);
      const deadline = Date.now() + 30_000;
      while (delivered.some((d) => !received.has(d.eventId)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
    } finally {
      await sub.close();
      await runtime.close();
    }
    const whole = delivered.filter((d) => d.durationMs === o.snippetSeconds * 1000);
    const missing = whole.filter((d) => !received.has(d.eventId));
    if (missing.length) throw new Error(`${missing.length} events never reached the subscriber`);
    return {
      store: runtime.store.describe,
      bus: runtime.bus.describe,
      snippets: whole.length,
      meanBytes: whole.reduce((s, d) => s + d.bytes, 0) / Math.max(1, whole.length),
      stored: spread(whole.map((d) => (d.storedAtMs - d.endUtcMs) / 1000)),
      announced: spread(whole.map((d) => (received.get(d.eventId)! - d.endUtcMs) / 1000)),
      closing: spread(whole.map((d) => (d.closedAtMs - d.endUtcMs) / 1000)),
      waiting: spread(whole.map((d) => (d.startedAtMs - d.closedAtMs) / 1000)),
      uploading: spread(whole.map((d) => (d.storedAtMs - d.startedAtMs) / 1000)),
    };
  } finally {
    await localS3?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatAvailability(runs: AvailabilityRun[], targetP99Sec: number): string {
  const s = (x: number) => `${x.toFixed(2)} s`.padStart(8);
  const lines = runs.map(
    (r) =>
      `${r.store.slice(0, 44).padEnd(44)} ${String(r.snippets).padStart(4)} ${(r.meanBytes / 1e6).toFixed(1).padStart(6)} MB` +
      `  stored ${s(r.stored.p50)} ${s(r.stored.p99)} ${s(r.stored.max)}` +
      `  announced ${s(r.announced.p50)} ${s(r.announced.p99)} ${s(r.announced.max)}` +
      `  ${r.announced.p99 <= targetP99Sec && r.stored.p99 <= targetP99Sec ? 'met' : 'MISSED'}`,
  );
  const parts = runs.map(
    (r) =>
      `${r.store.slice(0, 44).padEnd(44)}  of which: muxer closing ${s(r.closing.p50)} ${s(r.closing.p99)}` +
      `  waiting ${s(r.waiting.p50)} ${s(r.waiting.p99)}  checking+uploading ${s(r.uploading.p50)} ${s(r.uploading.p99)}`,
  );
  return (
    `${'store'.padEnd(44)} snip   mean size    stored    p50      p99      max     announced p50  p99      max   target p99 <= ${targetP99Sec} s\n` +
    lines.join('\n') +
    '\n\n' +
    parts.join('\n') +
    '\n'
  );
}
