/**
 * The synthetic hosts of a system benchmark round: one whip-load.py process that encodes the
 * picture and the tone once and publishes every host's WHIP session from it, so that the
 * publishers take as little as possible of the machine they share with the node under test.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JsonLinesChild } from '../json-lines-child.ts';

const LOAD = fileURLToPath(new URL('../../ingest/publisher/whip-load.py', import.meta.url));

export interface LoadSession {
  url: string;
  token: string;
}

export interface LoadOptions {
  kbps: number;
  pattern: string;
  /** Pixels the picture moves sideways per frame: a camera's picture is never still. */
  scroll: number;
  /** Tone level of each host; the composite sums four of them. */
  volume: number;
}

export class LoadPublisher {
  private constructor(private readonly child: JsonLinesChild) {}

  static start(sessions: readonly LoadSession[], o: LoadOptions): LoadPublisher {
    const proc = spawn(
      '/usr/bin/python3',
      [
        LOAD,
        ...['--sessions', '-', '--kbps', String(o.kbps), '--pattern', o.pattern],
        ...['--volume', String(o.volume), '--scroll', String(o.scroll)],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    proc.on('error', () => undefined);
    const child = new JsonLinesChild(proc);
    proc.stdin!.end(JSON.stringify(sessions));
    return new LoadPublisher(child);
  }

  get pid(): number | undefined {
    return this.child.proc.pid;
  }

  /** Resolves when every session is connected; rejects with the first failure or on timeout. */
  async connected(sessions: number, timeoutMs: number): Promise<void> {
    const failed = this.child
      .waitFor((l) => l.event === 'failed' || l.event === 'stopped', timeoutMs)
      .then((l) => {
        throw new Error(`publisher: ${JSON.stringify(l)} ${this.child.stderrTail.slice(-300)}`);
      });
    failed.catch(() => undefined);
    const all = Promise.all(
      Array.from({ length: sessions }, (_, i) =>
        this.child.waitFor((l) => l.event === 'connected' && l.index === i, timeoutMs),
      ),
    );
    await Promise.race([all, failed]);
  }

  /**
   * What went wrong with the hosts since they connected: sessions that failed, or the process
   * ending. A round whose hosts stopped publishing says so, rather than blaming what they fed.
   */
  problems(): string[] {
    const found: string[] = [];
    const failed = this.child.lines.filter((l) => l.event === 'failed');
    if (failed.length > 0)
      found.push(
        `the load publisher lost ${failed.length} session(s); first: ${String(failed[0]!.message ?? '').slice(0, 300)}`,
      );
    const stopped = this.child.lines.find((l) => l.event === 'stopped');
    if (stopped || this.child.exited)
      found.push(
        `the load publisher ended during the round` +
          (stopped ? ` (${JSON.stringify(stopped)})` : '') +
          `: ${this.child.stderrTail.trim().slice(-300)}`,
      );
    return found;
  }

  /**
   * The seconds in which its sound fell 300 ms or more behind the clock, as encoded and as the
   * first session sent it ("sound-behind" lines): a publisher short of CPU, whose late sound the
   * recorders' mixers then drop.
   */
  soundBehind(): { atMs: number; encodedMs: number; sentMs: number }[] {
    return this.child.lines
      .filter((l) => l.event === 'sound-behind')
      .map((l) => ({
        atMs: Number(l.atMs ?? 0),
        encodedMs: Number(l.encodedMs ?? 0),
        sentMs: Number(l.sentMs ?? 0),
      }));
  }

  /** Every session says goodbye with a DELETE; the group is killed after graceMs. */
  stop(graceMs = 15_000): Promise<void> {
    return this.child.stop(graceMs);
  }
}
