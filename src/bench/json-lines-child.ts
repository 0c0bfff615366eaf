/** A benchmark's helper process that talks JSON lines on stdout (an ingest node, a load generator). */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Line {
  event: string;
  [k: string]: unknown;
}

/** A child with JSON lines on stdout, in its own process group. */
export class JsonLinesChild {
  readonly lines: Line[] = [];
  private readonly waiters = new Set<() => void>();
  stderrTail = '';
  exited = false;

  constructor(readonly proc: ChildProcess) {
    proc.stdin?.on('error', () => undefined);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        return;
      }
      for (const w of this.waiters) w();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    proc.once('exit', () => {
      this.exited = true;
      for (const w of this.waiters) w();
    });
  }

  /** Resolves with the first line from index `from` matching, or rejects after timeoutMs. */
  waitFor(match: (l: Line) => boolean, timeoutMs: number, from = 0): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(match);
        if (found || this.exited) {
          this.waiters.delete(check);
          clearTimeout(timer);
          if (found) resolve(found);
          else reject(new Error(`exited early: ${this.stderrTail.trim().slice(-400)}`));
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exited || this.proc.pid === undefined) return;
    try {
      process.kill(-this.proc.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM to the group (unless term is false: it was asked to quit), SIGKILL after graceMs. */
  async stop(graceMs: number, term = true): Promise<void> {
    if (term) this.kill('SIGTERM');
    const exited = new Promise<void>((r) =>
      this.exited ? r() : this.proc.once('exit', () => r()),
    );
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.kill('SIGKILL'); // helpers left in the group
  }
}
