import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { guardedSpawn } from '../../support/guarded-spawn.ts';

const PUBLISHER = fileURLToPath(new URL('./whip-publisher.py', import.meta.url));
// Debian's python3 has the GStreamer bindings; another python3 on PATH may not.
const PYTHON = '/usr/bin/python3';

export interface SyntheticHostOptions {
  whipUrl: string;
  token: string;
  name: string;
  toneHz?: number;
  /** videotestsrc pattern; the default moves, so frozen video is an impairment, not the norm. */
  pattern?: string;
  camera?: 'on' | 'off';
  extraArgs?: string[];
}

export interface PublisherLine {
  event: string;
  [field: string]: unknown;
}

/**
 * A synthetic host: the GStreamer webrtcbin WHIP client in a child process, driven by commands
 * on its stdin (camera on|off, mic on|off, impair KIND|none) and reporting JSON lines.
 */
export class SyntheticHost {
  readonly child: ChildProcess;
  readonly lines: PublisherLine[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly o: SyntheticHostOptions) {
    this.child = guardedSpawn(
      PYTHON,
      [
        PUBLISHER,
        ...['--url', o.whipUrl, '--token', o.token, '--name', o.name],
        ...['--tone-hz', String(o.toneHz ?? 440), '--pattern', o.pattern ?? 'ball'],
        ...['--camera', o.camera ?? 'on'],
        ...(o.extraArgs ?? []),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.resume();
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as PublisherLine);
      } catch {
        // not one of its JSON lines
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves once the WHIP answer was applied (or rejects when the publisher failed). */
  async answered(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.lines.some((l) => l.event === 'answered')) return;
      const failed = this.lines.find((l) => l.event === 'failed');
      if (failed) throw new Error(`${this.o.name}: ${String(failed.message)}`);
      if (this.child.exitCode !== null) throw new Error(`${this.o.name}: publisher exited`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.o.name}: no WHIP answer within ${timeoutMs} ms`);
  }

  send(command: string): void {
    this.child.stdin?.write(`${command}\n`);
  }

  /** SIGTERM ends the publish with a DELETE; SIGKILL drops it like a crashed host. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const kill = (s: NodeJS.Signals) => {
      try {
        process.kill(-this.child.pid!, s);
      } catch {
        // already gone
      }
    };
    kill(signal);
    const timer = setTimeout(() => kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
