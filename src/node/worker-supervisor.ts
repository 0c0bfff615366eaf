import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isWorkerReport, WorkerBook, type Orphaned } from '../orchestration/worker-report.ts';

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface SupervisorOptions {
  args: string[];
  env: Record<string, string>;
  onLog: (line: string) => void;
  /** Called with each new process id, for tests and the status line. */
  onStart?: (pid: number) => void;
  /**
   * Called when the process exited (not when stopped) holding leases or RTP copies: the leases
   * are failed at once, so its recordings start again elsewhere without waiting for a heartbeat
   * timeout, and the copies are detached.
   */
  onOrphaned?: (orphaned: Orphaned, how: string) => void;
}

/**
 * V8's memory reducer takes a worker's slow, steady allocation for idleness and starts full
 * collections over and over to hand memory back: in one of a node's two workers they were
 * 204 of 487 CPU samples (`perf`, 30 s, one livestream). Without it that worker's collections
 * fell to 1-21 samples, both workers together from 4.5 to 3.0-3.3 % of a core, at the same
 * peak RSS (`bench system --livestreams 1 --duration 40 --no-ffmpeg`, runs alternated).
 */
const WORKER_V8_FLAGS = ['--no-memory-reducer'];

/**
 * Runs `tapedeck worker` as a child and starts it again whenever it dies, so a crashed worker
 * takes its recordings back within seconds. Restarts back off while it keeps dying at start.
 */
export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: SupervisorOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    this.startedAt = Date.now();
    const child = spawn(
      process.execPath,
      [...WORKER_V8_FLAGS, '--import', TSX, CLI, 'worker', ...this.o.args],
      {
        env: { ...process.env, ...this.o.env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    this.child = child;
    const book = new WorkerBook(Date.now());
    child.on('message', (m) => {
      if (isWorkerReport(m)) book.apply(m);
    });
    // The channel must not keep the node alive on its own.
    child.channel?.unref();
    if (child.pid !== undefined) this.o.onStart?.(child.pid);
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      const how = signal ?? `exit code ${code}`;
      const orphaned = book.orphaned(Date.now());
      if (orphaned.leases.length || orphaned.attachments.length) this.o.onOrphaned?.(orphaned, how);
      // A worker that ran a while restarts at once; one that keeps failing at start backs off.
      const ranMs = Date.now() - this.startedAt;
      this.restarts = ranMs > 30_000 ? 0 : this.restarts + 1;
      const delay = Math.min(10_000, this.restarts <= 1 ? 0 : 500 * 2 ** this.restarts);
      this.o.onLog(`worker exited (${how}); starting it again in ${delay} ms`);
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  /** Asks the worker to finish its recordings (SIGTERM), then kills it after `graceMs`. */
  async stop(graceMs = 60_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(kill);
  }
}
