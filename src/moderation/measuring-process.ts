import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BATCH_NICENESS } from '../support/batch-spawn.ts';
import { envWithoutNodeTls } from '../support/child-env.ts';
import { bundledEntry, type WorkerEntry } from '../support/worker-bundle.ts';
import type { MeasureReady, MeasureReply, MeasureRequest } from './measure-worker/protocol.ts';

const SOURCE = fileURLToPath(new URL('./measure-worker/main.ts', import.meta.url));
/** A long-lived process is replaced now and then, so whatever GStreamer leaks per pipeline stays small. */
const PIPELINES_PER_PROCESS = 500;
const READY_TIMEOUT_MS = 30_000;

/** The pipeline failed, ran too long, or the process running it died: that snippet cannot be measured. */
export class PipelineFailure extends Error {
  override name = 'PipelineFailure';
}

/** GStreamer itself refused the file (an element's error), as against a timeout or a crash. */
export class PipelineRefused extends PipelineFailure {
  override name = 'PipelineRefused';
}

interface Running {
  child: ChildProcess;
  ready: Promise<void>;
  runs: number;
  stderr: string;
  pending: Map<number, { resolve(cpuSec: number): void; reject(err: Error): void }>;
}

let entry: WorkerEntry | null = null;

/**
 * Runs scoring's decode pipelines in one child process that loads GStreamer once, one pipeline at
 * a time, at batch niceness like the gst-launch processes it replaces. The child is started on
 * first use and does not keep the node's event loop alive when idle.
 */
export class MeasuringProcess {
  private running: Running | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;

  /** Resolves with the CPU seconds the pipeline took once it reached its end. */
  run(pipeline: string, timeoutMs: number): Promise<number> {
    const result = this.queue.then(() => this.runNow(pipeline, timeoutMs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The child's pid, while one runs. */
  pid(): number | null {
    return this.running?.child.pid ?? null;
  }

  /** Ends the child (the node's shutdown, a test's end). */
  close(): void {
    this.running?.child.kill('SIGKILL');
    this.running = null;
  }

  private async runNow(pipeline: string, timeoutMs: number): Promise<number> {
    if (this.running && this.running.runs >= PIPELINES_PER_PROCESS) this.retire(this.running);
    const r = (this.running ??= this.start());
    await r.ready;
    r.runs += 1;
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Stuck inside GStreamer: only a kill gets it out.
        this.retire(r);
        fail(new PipelineFailure(`measuring took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        r.pending.delete(id);
        reject(err);
      };
      r.pending.set(id, {
        resolve: (cpuSec) => {
          clearTimeout(timer);
          r.pending.delete(id);
          resolve(cpuSec);
        },
        reject: fail,
      });
      const request: MeasureRequest = { id, pipeline };
      r.child.send(request, (err) => {
        if (err) fail(new PipelineFailure(`the measuring process took no request: ${err.message}`));
      });
    });
  }

  private retire(r: Running): void {
    r.child.kill('SIGKILL');
    if (this.running === r) this.running = null;
  }

  private start(): Running {
    entry ??= bundledEntry(SOURCE, 'moderation/measure-worker');
    const child = spawn(
      'nice',
      ['-n', String(BATCH_NICENESS), process.execPath, ...entry.execArgv, entry.file],
      { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: envWithoutNodeTls() },
    );
    const r: Running = { child, ready: Promise.resolve(), runs: 0, stderr: '', pending: new Map() };
    const unref = () => {
      child.unref();
      (child.channel as { unref?: () => void } | undefined)?.unref?.();
      (child.stderr as { unref?: () => void } | null)?.unref?.();
    };
    unref();
    child.stderr!.on('data', (d: Buffer) => (r.stderr = (r.stderr + d.toString()).slice(-2000)));
    const gone = (why: string) => {
      if (this.running === r) this.running = null;
      const err = new PipelineFailure(`the measuring process ${why}${lastLine(r.stderr)}`);
      for (const p of [...r.pending.values()]) p.reject(err);
      return err;
    };
    r.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.retire(r);
        reject(gone(`was not ready within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      child.on('message', (raw) => {
        const m = raw as MeasureReply | MeasureReady;
        if ('ready' in m) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const p = r.pending.get(m.id);
        if (!p) return;
        if (m.ok) p.resolve(m.cpuSec);
        else p.reject(new PipelineRefused(m.error));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(gone(`did not start: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(gone(`ended (${signal ?? `exit code ${code}`})`));
      });
    });
    r.ready.catch(() => undefined);
    return r;
  }
}

function lastLine(text: string): string {
  const line = text.trim().split('\n').at(-1)?.trim();
  return line ? `: ${line}` : '';
}

let shared: MeasuringProcess | null = null;

/** The process-wide one, ended when the node exits. */
export function sharedMeasuringProcess(): MeasuringProcess {
  if (!shared) {
    shared = new MeasuringProcess();
    const m = shared;
    process.once('exit', () => m.close());
  }
  return shared;
}
