import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MediaWorker } from './media-worker.ts';
import type { InputSpec, RecordingSpec, SyntheticSource } from './pipeline/spec.ts';
import { validateSpec } from './pipeline/spec.ts';
import type { TimelineStep } from './timeline.ts';
import type { SnippetClosed, WorkerEvent } from './worker/protocol.ts';

export function syntheticHost(
  n: number,
  pattern: SyntheticSource['pattern'] = 'bars',
  cameraOn = true,
): InputSpec {
  return {
    id: `h${n}`,
    displayName: `Host ${n}`,
    source: { type: 'synthetic', pattern, toneHz: 220 + 110 * n },
    cameraOn,
  };
}

export interface SyntheticRecordingOptions {
  spec: RecordingSpec;
  durationSec: number;
  timeline?: TimelineStep[];
  pattern?: SyntheticSource['pattern'];
  /** Ends the recording early (Ctrl-C), still with EOS. */
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
  /** Number of the first snippet; a resumed recording continues after its last one. */
  startIndex?: number;
  /** The worker runs: its pid, and the wall-clock time (ns) of running time 0. */
  onStarted?: (info: { pid: number; baseTimeUtcNs: string }) => void;
  onProgress?: (progress: { elapsedSec: number; snippets: number }) => void;
}

export interface DeliveredSnippet extends SnippetClosed {
  bytes: number;
  durationSec: number;
}

export interface RecordingSummary {
  outDir: string;
  snippets: DeliveredSnippet[];
  outputFailures: { output: string; message: string }[];
  stoppedEarly: boolean;
  elapsedSec: number;
}

export class RecordingSetupError extends Error {
  override name = 'RecordingSetupError';
}

/** A folder we cannot write to must fail before the pipeline starts, not at the first snippet. */
export async function ensureWritableDir(dir: string, what: string): Promise<void> {
  try {
    await makeDirs(resolve(dir));
    await access(dir, constants.W_OK);
    const probe = join(dir, `.tapedeck-write-test-${process.pid}-${randomUUID()}`);
    await writeFile(probe, '');
    await unlink(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new RecordingSetupError(`cannot write ${what} to ${dir} (${code})`);
  }
}

/** mkdir -p one level at a time: Node's recursive mkdir spins forever under /proc. */
async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw error;
    await makeDirs(dirname(dir));
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

/** Records synthetic hosts for a fixed time, applying the timeline's changes as it goes. */
export async function runSyntheticRecording(
  options: SyntheticRecordingOptions,
): Promise<RecordingSummary> {
  const { spec } = options;
  validateSpec(spec);
  await ensureWritableDir(spec.outDir, 'snippets');
  if (spec.hlsDir) await ensureWritableDir(spec.hlsDir, 'the HLS playlist');

  const worker = new MediaWorker();
  const snippets: DeliveredSnippet[] = [];
  const outputFailures: RecordingSummary['outputFailures'] = [];
  const pendingStats: Promise<void>[] = [];
  worker.on('event', (event) => {
    options.onEvent?.(event);
    if (event.event === 'output-failed')
      outputFailures.push({ output: event.data.output, message: event.data.message });
  });
  worker.on('snippet', (s) => {
    pendingStats.push(
      stat(s.location).then((st) => {
        snippets.push({
          ...s,
          bytes: st.size,
          durationSec: Number(BigInt(s.endRunningTimeNs) - BigInt(s.startRunningTimeNs)) / 1e9,
        });
      }),
    );
  });
  const died = new Promise<never>((_, reject) =>
    worker.once('died', ({ code, signal }) =>
      reject(
        new Error(
          `media worker died (${signal ?? `exit code ${code}`}); snippets so far are in ${spec.outDir}`,
        ),
      ),
    ),
  );
  died.catch(() => undefined);

  const started = Date.now();
  let stoppedEarly = false;
  const timers: NodeJS.Timeout[] = [];
  try {
    const startedInfo = await Promise.race([worker.start(spec, options.startIndex ?? 0), died]);
    options.onStarted?.({
      pid: worker.pid ?? startedInfo.pid,
      baseTimeUtcNs: startedInfo.baseTimeUtcNs,
    });
    let nextHost = spec.inputs.length + 1;
    for (const step of options.timeline ?? []) {
      timers.push(
        setTimeout(() => {
          const host = step.host ?? nextHost;
          const id = `h${host}`;
          const change =
            step.action === 'add'
              ? worker.addInput(syntheticHost(host, options.pattern))
              : step.action === 'remove'
                ? worker.removeInput(id)
                : worker.setCamera(id, step.action === 'camera-on');
          if (step.action === 'add' && step.host === undefined) nextHost++;
          change.catch((error: Error) =>
            options.onEvent?.({
              event: 'warning',
              data: { source: 'timeline', message: error.message },
            }),
          );
        }, step.atSeconds * 1000),
      );
    }
    await Promise.race([
      new Promise<void>((resolve) => {
        const progress = setInterval(
          () =>
            options.onProgress?.({
              elapsedSec: (Date.now() - started) / 1000,
              snippets: snippets.length,
            }),
          1000,
        );
        const done = () => {
          clearInterval(progress);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, options.durationSec * 1000);
        options.signal?.addEventListener('abort', () => {
          stoppedEarly = true;
          done();
        });
      }),
      died,
    ]);
    timers.forEach(clearTimeout);
    await Promise.race([worker.stop(), died]);
  } finally {
    timers.forEach(clearTimeout);
    await worker.close();
  }
  await Promise.all(pendingStats);
  snippets.sort((a, b) => a.seq - b.seq);
  return {
    outDir: spec.outDir,
    snippets,
    outputFailures,
    stoppedEarly,
    elapsedSec: (Date.now() - started) / 1000,
  };
}
