import { readFileSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_ESCALATION_WINDOW } from '../domain/escalation.ts';
import { snippetKey } from '../domain/snippet-key.ts';
import { snippetScoredEvent, type SnippetScored } from '../domain/snippet-scored.ts';
import { openBus } from '../delivery/bus/open.ts';
import { sha256File } from '../delivery/file-hash.ts';
import { openStore } from '../delivery/store/open.ts';
import { startModeration } from '../moderation/moderation-runtime.ts';
import { startLocalTemporal } from '../orchestration/temporal/local-temporal.ts';
import { guardedSpawn } from '../support/guarded-spawn.ts';
import { clockTicksPerSecond, parseProcStat } from './process-usage.ts';
import { splitLaunchArgs } from './media-bench.ts';
import { launchDescription } from './scoring-bench.ts';
import { spread, type Spread } from './stats.ts';

export interface EscalationBenchOptions {
  /** Escalations measured, one after another (after one unmeasured warm-up). */
  escalations: number;
  workDir: string;
  onProgress?: (line: string) => void;
}

export interface EscalationBenchResult {
  escalations: number;
  /** The range each review covers. */
  rangeSec: number;
  clipMiB: number;
  warmupSec: number;
  turnaroundSec: Spread;
  /** CPU of this process and its merges per escalation, on average. */
  cpuSecPerEscalation: number;
}

const SNIPPET_MS = 15_000;
/** Snippets stored per track: the flagged one (3) with two full snippets of context each side. */
const SNIPPETS = 7;
const FLAGGED = 3;

/**
 * A host track's snippets as the recorder cuts them (the same encoders and splitmuxsink): 640x360
 * H.264 at 5 Mbit/s and AAC, moving bars and a tone, SNIPPETS x 15 s, made faster than real time.
 */
async function makeSnippets(dir: string): Promise<string[]> {
  const totalSec = SNIPPETS * (SNIPPET_MS / 1000);
  const description = launchDescription(
    {
      totalSec,
      video: [{ sec: totalSec, source: 'smpte horizontal-speed=3' }],
      audio: [{ sec: totalSec, tones: [{ wave: 'sine', freq: 440, levelDb: -20 }] }],
    },
    'mp4',
    join(dir, 's%06d.mp4'),
  );
  const child = guardedSpawn('gst-launch-1.0', ['-q', ...splitLaunchArgs(description)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const files = Array.from({ length: SNIPPETS }, (_, i) =>
    join(dir, `s${String(i).padStart(6, '0')}.mp4`),
  );
  if (code !== 0) throw new Error(`gst-launch-1.0 could not make the snippets: ${stderr.trim()}`);
  return files;
}

/** This process and its finished children (the merges): the moderation worker's side. */
function cpuSec(): number {
  const st = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
  return (st.utime + st.stime + st.cutime + st.cstime) / clockTicksPerSecond();
}

/**
 * Escalation turnaround: from a low score on the bus to the review being in the moderation
 * service's queue, with everything real and local (Temporal dev server, file store, embedded bus,
 * the built-in service). The snippets are stored beforehand, so what is measured is the loop:
 * trigger, workflow, fetch, merge, upload, review.
 */
export async function runEscalationBench(
  o: EscalationBenchOptions,
): Promise<EscalationBenchResult> {
  const say = (l: string) => o.onProgress?.(l);
  const dir = join(o.workDir, `escalation-bench-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  try {
    say('starting Temporal dev server, workers, store, bus and the moderation service…');
    const temporal = await startLocalTemporal(dir);
    cleanups.push(() => temporal.close());
    const { dev, client, connection } = temporal;
    const store = openStore(`file://${join(dir, 'store')}`);
    cleanups.push(() => store.close());
    const bus = await openBus('embedded', { dataDir: dir });
    cleanups.push(() => bus.close());
    const m = await startModeration({
      dataDir: dir,
      client,
      connection,
      namespace: dev.namespace,
      bus,
      store,
      service: { builtIn: true },
      score: false,
      log: say,
    });
    cleanups.push(() => m.close());

    const made = join(dir, 'made');
    await mkdir(made, { recursive: true });
    const files = await makeSnippets(made);
    const sums = await Promise.all(files.map((f) => sha256File(f)));
    const livestreamId = 'bench-escalation';
    const t0 = Date.now() - 3_600_000;

    const one = async (track: string): Promise<number> => {
      for (let seq = 0; seq < SNIPPETS; seq++) {
        const startMs = t0 + seq * SNIPPET_MS;
        await store.putFile(
          snippetKey({ livestreamId, track, variant: 'mp4', startMs, seq }),
          files[seq]!,
          {
            sha256: sums[seq]!.sha256,
            contentType: 'video/mp4',
            metadata: {
              start: new Date(startMs).toISOString(),
              end: new Date(startMs + SNIPPET_MS).toISOString(),
            },
          },
        );
      }
      const startMs = t0 + FLAGGED * SNIPPET_MS;
      const scored: SnippetScored = {
        key: snippetKey({ livestreamId, track, variant: 'mp4', startMs, seq: FLAGGED }),
        livestreamId,
        track,
        seq: FLAGGED,
        start: new Date(startMs).toISOString(),
        end: new Date(startMs + SNIPPET_MS).toISOString(),
        audio: { score: 100, reasons: [] },
        video: { score: 20, reasons: [{ impairment: 'black', fromSec: 2, toSec: 12 }] },
        review: true,
        reviewBelow: 60,
      };
      const begun = performance.now();
      await bus.publish(snippetScoredEvent(scored));
      for (;;) {
        const queue = await m.moderation.listReviews({ livestreamId, track, status: 'open' });
        if (queue.length) return (performance.now() - begun) / 1000;
        if (performance.now() - begun > 120_000)
          throw new Error(`no review for ${track} after 120 s; see the log above`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };

    const warmupSec = await one('host-warmup');
    say(`warm-up escalation: ${warmupSec.toFixed(2)} s`);
    const samples: number[] = [];
    const cpuBefore = cpuSec();
    for (let i = 0; i < o.escalations; i++) {
      samples.push(await one(`host-b${i}`));
      say(`escalation ${i + 1}/${o.escalations}: ${samples.at(-1)!.toFixed(2)} s`);
    }
    const cpu = cpuSec() - cpuBefore;
    const reviews = await m.moderation.listReviews({ livestreamId, track: 'host-b0' });
    const clip = reviews[0]!;
    const clipBytes = (await stat(store.locate(clip.clipKey))).size;
    return {
      escalations: o.escalations,
      rangeSec: (clip.range.endMs - clip.range.startMs) / 1000,
      clipMiB: clipBytes / 2 ** 20,
      warmupSec,
      turnaroundSec: spread(samples),
      cpuSecPerEscalation: cpu / Math.max(1, o.escalations),
    };
  } finally {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  }
}

export function formatEscalationReport(r: EscalationBenchResult): string {
  const s = r.turnaroundSec;
  const window = DEFAULT_ESCALATION_WINDOW;
  return [
    `escalation turnaround, low score on the bus -> review in the queue (${r.escalations} escalations, one at a time)`,
    `  range per review     ${r.rangeSec.toFixed(0)} s (${window.beforeMs / 1000} s before and ${window.afterMs / 1000} s after a 15-s snippet), clip ${r.clipMiB.toFixed(1)} MiB`,
    `  turnaround           p50 ${s.p50.toFixed(2)} s, p99 ${s.p99.toFixed(2)} s, max ${s.max.toFixed(2)} s   (target: <= 10 s)`,
    `  first one (warm-up)  ${r.warmupSec.toFixed(2)} s, not counted`,
    `  CPU per escalation   ${r.cpuSecPerEscalation.toFixed(2)} s (moderation worker and its merges; the Temporal server not counted)`,
  ].join('\n');
}
