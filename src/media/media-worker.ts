import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { envWithoutNodeTls } from '../support/child-env.ts';
import type { InputSpec, RecordingSpec } from './pipeline/spec.ts';
import { mediaWorkerEntry } from './worker-entry.ts';
import {
  isReply,
  type ResultOf,
  type SnippetClosed,
  type WorkerEvent,
  type WorkerMessage,
  type WorkerMethod,
  type WorkerRequest,
} from './worker/protocol.ts';

export class WorkerClosedError extends Error {
  override name = 'WorkerClosedError';
}

export interface MediaWorkerEvents {
  snippet: [SnippetClosed];
  /** Any notification, for monitoring and logs. */
  event: [WorkerEvent];
  /** The process ended without being asked to. */
  died: [{ code: number | null; signal: NodeJS.Signals | null }];
  closed: [];
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string };

/**
 * Owns one media worker process and is the only thing that talks to it: requests with replies,
 * and notifications. close() is asked for; died is a crash. Either way every pending request fails.
 */
export class MediaWorker extends EventEmitter<MediaWorkerEvents> {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;
  private exited = false;
  readonly ready: Promise<void>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: { stderr?: 'inherit' | 'pipe' | 'ignore' } = {}) {
    super();
    const entry = mediaWorkerEntry();
    this.child = fork(entry.file, [], {
      execArgv: entry.execArgv,
      env: envWithoutNodeTls(),
      stdio: ['ignore', 'inherit', options.stderr ?? 'inherit', 'ipc'],
      serialization: 'json',
      // Its own process group: Ctrl-C in a terminal reaches the owner, which stops the recording
      // with EOS; the worker ends itself if the owner goes away.
      detached: true,
    });
    this.ready = new Promise((resolve, reject) => {
      const onEvent = (e: WorkerEvent) => {
        if (e.event === 'ready') {
          this.off('event', onEvent);
          resolve();
        }
      };
      this.on('event', onEvent);
      this.child.once('exit', () =>
        reject(new WorkerClosedError('media worker exited before it was ready')),
      );
    });
    this.ready.catch(() => undefined);
    this.child.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        const error = new WorkerClosedError(
          this.closing
            ? 'media worker closed'
            : `media worker died (${signal ?? `exit code ${code}`})`,
        );
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
        if (!this.closing) this.emit('died', { code, signal });
        this.emit('closed');
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async request<M extends WorkerMethod>(
    method: M,
    params: Extract<WorkerRequest, { method: M }>['params'],
  ): Promise<ResultOf[M]> {
    await this.ready;
    if (this.exited) throw new WorkerClosedError(`media worker is gone; cannot ${method}`);
    const id = this.nextId++;
    return new Promise<ResultOf[M]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.child.send({ id, method, params });
    });
  }

  start(spec: RecordingSpec, startIndex = 0) {
    return this.request('start', { spec, startIndex });
  }
  addInput(input: InputSpec) {
    return this.request('addInput', { input });
  }
  removeInput(id: string) {
    return this.request('removeInput', { id });
  }
  setCamera(id: string, on: boolean) {
    return this.request('setCamera', { id, on });
  }
  setLayout(order: string[]) {
    return this.request('setLayout', { order });
  }
  stats() {
    return this.request('stats', {});
  }
  warmUp() {
    return this.request('warmUp', {});
  }

  /** Finishes the recording with EOS (the last snippet stays whole) and ends the process. */
  async stop(timeoutMs = 15_000): Promise<ResultOf['stop']> {
    const result = await this.request('stop', { timeoutMs });
    await this.close();
    return result;
  }

  /** Ends the process; a recording still running gets EOS from the worker's own handler first. */
  async close(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    this.closing = true;
    this.child.disconnect?.();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  private onMessage(message: WorkerMessage): void {
    if (isReply(message)) {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.ok) pending.resolve(message.result);
      else {
        const error = new Error(message.error.message);
        error.name = message.error.name;
        pending.reject(error);
      }
      return;
    }
    this.emit('event', message);
    if (message.event === 'snippet-closed') this.emit('snippet', message.data);
  }
}
