import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { envWithoutNodeTls } from '../support/child-env.ts';
import { decoderEntry } from './decoder-entry.ts';
import type { SharedDecoderSpec } from './pipeline/shared-decoder.ts';

/** Pauses before each restart after an unexpected exit; a decoder that ran a minute starts over. */
const RESTART_MS = [250, 1000, 2000, 5000];
const STEADY_MS = 60_000;
const READY_TIMEOUT_MS = 5000;

export interface SharedDecoderEvents {
  /** A decoder process runs and serves its port. */
  started: [{ pid: number }];
  /** It exited without being asked to; it starts again after `restartInMs`. */
  exited: [
    { code: number | null; signal: NodeJS.Signals | null; restartInMs: number; stderr: string },
  ];
}

/**
 * One host's shared decoder: a process (src/media/decoder) that decodes the host's video RTP once
 * and serves the frames, with their timestamps, on a loopback port. It is started again, on the
 * same port, whenever it exits unasked; its readers take the gap as a lost picture and connect
 * again once the port is back.
 */
export class SharedDecoder extends EventEmitter<SharedDecoderEvents> {
  private child: ChildProcess | null = null;
  private decoderPid: number | null = null;
  private stopping = false;
  private failures = 0;
  private restart: NodeJS.Timeout | undefined;
  /** Decoder processes started so far, the first included. */
  starts = 0;

  constructor(readonly spec: SharedDecoderSpec) {
    super();
  }

  /** The decoder process's pid while one runs. */
  get pid(): number | null {
    return this.decoderPid;
  }

  /** Starts the decoder and waits (a few seconds at most) until it serves its port. */
  async start(): Promise<void> {
    this.launch();
    await this.ready();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  }

  private async ready(): Promise<void> {
    const until = Date.now() + READY_TIMEOUT_MS;
    while (!(await listening(this.spec.framesPort)) && Date.now() < until && !this.stopping)
      await new Promise((r) => setTimeout(r, 50));
  }

  private launch(): void {
    const entry = decoderEntry();
    // The decoder process kills itself when this process is gone (its orphan watchdog).
    const child = spawn(
      process.execPath,
      [...entry.execArgv, entry.file, JSON.stringify(this.spec)],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: envWithoutNodeTls(),
      },
    );
    this.child = child;
    this.starts += 1;
    const startedAt = Date.now();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    if (child.pid !== undefined) {
      const pid = child.pid;
      this.decoderPid = pid;
      void this.ready().then(() => {
        if (this.child === child && !this.stopping) this.emit('started', { pid });
      });
    }
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.decoderPid = null;
      if (this.stopping) return;
      if (Date.now() - startedAt > STEADY_MS) this.failures = 0;
      const restartInMs = RESTART_MS[Math.min(this.failures, RESTART_MS.length - 1)]!;
      this.failures += 1;
      this.emit('exited', { code, signal, restartInMs, stderr: stderr.trim() });
      this.restart = setTimeout(() => {
        if (!this.stopping) this.launch();
      }, restartInMs);
    });
  }
}

/** Whether something accepts connections on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
