import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { type CloudEvent, envelopeProblems, EventSchemaError } from '../domain/cloudevent.ts';
import { BusError, type MessageBus } from './bus/port.ts';
import { fsyncDir } from './durable-file.ts';

/**
 * Events on their way to the bus. An event is on disk (append + fsync) before add()
 * resolves and stays there until the bus has acknowledged it, so a broker outage or
 * a crash of this process loses nothing; ids are stable, so republishing is safe.
 * Publishing is strictly in order: the next event waits until the one before is acked.
 */
export interface OutboxOptions {
  /** The outbox lives in `${dataDir}/outbox`; one process at a time. */
  dataDir: string;
  bus: MessageBus;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Warn when the bus has failed this long, and again each time this much longer. */
  warnAfterMs?: number;
  /** Published ids kept, so that adding one of them again stays a no-op. */
  rememberDone?: number;
  /** Rewrite the file once this many records were appended and nothing is pending. */
  compactAfter?: number;
}

export interface OutboxWarning {
  message: string;
  pending: number;
  failingForMs: number;
  error: unknown;
}

interface OutboxEvents {
  warning: [OutboxWarning];
  recovered: [{ pending: number; failedForMs: number }];
  published: [CloudEvent];
}

export class OutboxLockedError extends Error {
  override name = 'OutboxLockedError';
}

const FILE = 'events.jsonl';
const LOCK = 'owner.lock';

interface LockInfo {
  pid: number;
  host: string;
  /** Start time of the process in clock ticks since boot (Linux): tells a reused pid apart. */
  start: string | null;
}

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function holderAlive(info: LockInfo): boolean {
  // Another machine sharing the folder: its processes cannot be seen from here.
  if (info.host !== hostname()) return true;
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  return info.start === null || processStart(info.pid) === info.start;
}

const heldLocks = new Set<string>();

async function takeLock(path: string): Promise<void> {
  if (heldLocks.has(path)) throw new OutboxLockedError(`${path} is already open in this process`);
  const mine: LockInfo = { pid: process.pid, host: hostname(), start: processStart(process.pid) };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(mine) + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      heldLocks.add(path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let other: LockInfo | null = null;
    try {
      other = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    } catch {
      // Empty or torn: its writer died between create and write.
    }
    if (other !== null && holderAlive(other)) {
      throw new OutboxLockedError(
        `the outbox in ${path.slice(0, -LOCK.length - 1)} belongs to process ${other.pid} on ` +
          `${other.host}, which is running: give each process its own data folder ` +
          `(if that process is surely gone, delete ${path})`,
      );
    }
    await unlink(path).catch(() => undefined);
  }
  throw new OutboxLockedError(`could not take ${path}: other processes keep racing for it`);
}

async function releaseLock(path: string): Promise<void> {
  heldLocks.delete(path);
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    if (info.pid === process.pid && info.host === hostname()) await unlink(path);
  } catch {
    // Already gone.
  }
}

type OutboxRecord = { add: CloudEvent } | { done: string };

export class Outbox extends EventEmitter<OutboxEvents> {
  private readonly dir: string;
  private readonly bus: MessageBus;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly warnAfterMs: number;
  private readonly rememberDone: number;
  private readonly compactAfter: number;
  private fh!: FileHandle;
  /** Pending events in the order they were added. */
  private queue: CloudEvent[] = [];
  /** Ids being written or pending. */
  private readonly known = new Set<string>();
  /** Published ids, oldest first. */
  private readonly done = new Set<string>();
  private appended = 0;
  private torn = false;
  private writes: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | null = null;
  private stopping = false;
  private closed = false;
  private wake: (() => void) | null = null;
  /** Whether a new event ends the current sleep: it does when idle, not during a backoff. */
  private wakeOnAdd = false;
  private readonly drained = new Set<() => void>();
  private lastError: unknown = null;

  private constructor(opts: OutboxOptions) {
    super();
    this.dir = join(opts.dataDir, 'outbox');
    this.bus = opts.bus;
    this.minBackoffMs = opts.minBackoffMs ?? 200;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.warnAfterMs = opts.warnAfterMs ?? 30_000;
    this.rememberDone = opts.rememberDone ?? 10_000;
    this.compactAfter = opts.compactAfter ?? 1_000;
  }

  /** Takes the folder's lock and picks up whatever a previous process left pending. */
  static async open(opts: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(opts);
    await mkdir(outbox.dir, { recursive: true });
    await takeLock(outbox.lockPath);
    try {
      await outbox.load();
    } catch (err) {
      await releaseLock(outbox.lockPath);
      throw err;
    }
    return outbox;
  }

  private get lockPath(): string {
    return join(this.dir, LOCK);
  }

  private get filePath(): string {
    return join(this.dir, FILE);
  }

  private async load(): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    const byId = new Map<string, CloudEvent>();
    let adds = 0;
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '') continue;
      let rec: OutboxRecord;
      try {
        rec = JSON.parse(line) as OutboxRecord;
        if (typeof rec !== 'object' || rec === null) continue;
      } catch {
        continue;
      }
      if ('add' in rec && envelopeProblems(rec.add).length === 0) {
        adds++;
        if (!byId.has(rec.add.id) && !this.done.has(rec.add.id)) byId.set(rec.add.id, rec.add);
      } else if ('done' in rec && typeof rec.done === 'string') {
        byId.delete(rec.done);
        this.remember(rec.done);
      }
    }
    this.queue = [...byId.values()];
    for (const e of this.queue) this.known.add(e.id);
    // A torn last line was never acknowledged to anyone: drop it, we hold the lock.
    this.fh = await open(this.filePath, 'a');
    if (end < text.length) await this.fh.truncate(Buffer.byteLength(text.slice(0, end)));
    await fsyncDir(this.dir);
    if (this.queue.length === 0 && adds > 0) await this.compact();
  }

  private remember(id: string): void {
    this.done.delete(id);
    this.done.add(id);
    if (this.done.size > this.rememberDone) {
      const oldest = this.done.values().next().value;
      if (oldest !== undefined) this.done.delete(oldest);
    }
  }

  private append(rec: OutboxRecord): Promise<void> {
    const run = this.writes.then(async () => {
      // After a short write the file ends mid-line: start afresh so this record stays whole.
      const bytes = Buffer.from((this.torn ? '\n' : '') + JSON.stringify(rec) + '\n', 'utf8');
      this.torn = true;
      const { bytesWritten } = await this.fh.write(bytes);
      if (bytesWritten !== bytes.length) throw new Error(`short write to ${this.filePath}`);
      await this.fh.datasync();
      this.torn = false;
      this.appended++;
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Rewrites the file with only what is still needed: pending events and recent done ids. */
  private compact(): Promise<void> {
    const run = this.writes.then(async () => {
      const lines = [
        ...[...this.done].map((id) => JSON.stringify({ done: id })),
        ...this.queue.map((e) => JSON.stringify({ add: e })),
      ];
      const temp = `${this.filePath}.tmp`;
      const fh = await open(temp, 'w');
      try {
        await fh.writeFile(lines.length > 0 ? lines.join('\n') + '\n' : '');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, this.filePath);
      await fsyncDir(this.dir);
      // Appends are queued behind this, so none lands in the replaced file.
      const old = this.fh;
      this.fh = await open(this.filePath, 'a');
      await old.close();
      this.appended = 0;
      this.torn = false;
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Durable once this resolves. An id already pending or published is a no-op. */
  async add(event: CloudEvent): Promise<void> {
    const problems = envelopeProblems(event);
    if (problems.length > 0) throw new EventSchemaError(problems);
    if (this.closed || this.stopping) throw new Error('the outbox is closed');
    if (this.known.has(event.id) || this.done.has(event.id)) return;
    this.known.add(event.id);
    try {
      await this.append({ add: event });
    } catch (err) {
      this.known.delete(event.id);
      throw err;
    }
    this.queue.push(event);
    if (this.wakeOnAdd) this.wake?.();
  }

  pending(): number {
    return this.queue.length;
  }

  /** Starts publishing in the background; failures are retried, never thrown. */
  start(): void {
    if (this.closed || this.stopping) throw new Error('the outbox is closed');
    this.loop ??= this.run();
  }

  private sleep(ms: number, wakeOnAdd: boolean): Promise<void> {
    this.wakeOnAdd = wakeOnAdd;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let backoff = this.minBackoffMs;
    let failingSince: number | null = null;
    let warnedAt = 0;
    while (!this.stopping) {
      const head = this.queue[0];
      if (head === undefined) {
        for (const resolve of this.drained) resolve();
        if (this.appended >= this.compactAfter) {
          await this.compact().catch((err: unknown) => {
            // Not fatal: the file only stays longer than needed.
            this.appended = 0;
            console.warn(`tapedeck outbox: cannot compact ${this.filePath}: ${String(err)}`);
          });
          continue;
        }
        // No await between the check above and here, so an add() cannot slip past the wake.
        await this.sleep(3_600_000, true);
        continue;
      }
      try {
        await this.bus.publish(head);
        // Only after the ack is on disk may the event leave the queue.
        await this.append({ done: head.id });
      } catch (err) {
        this.lastError = err;
        const now = Date.now();
        failingSince ??= now;
        // A refusal that retrying cannot fix (configuration, permissions) is told at once.
        const hopeless = err instanceof BusError && !err.retryable && warnedAt === 0;
        const due = now - failingSince >= this.warnAfterMs && now - warnedAt >= this.warnAfterMs;
        if (hopeless || due) {
          warnedAt = now;
          this.warn(err, now - failingSince);
        }
        if (this.stopping) break;
        await this.sleep(backoff, false);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
        continue;
      }
      this.queue.shift();
      this.known.delete(head.id);
      this.remember(head.id);
      if (failingSince !== null) {
        this.tell('recovered', {
          pending: this.queue.length,
          failedForMs: Date.now() - failingSince,
        });
        failingSince = null;
        warnedAt = 0;
      }
      backoff = this.minBackoffMs;
      this.lastError = null;
      this.tell('published', head);
    }
  }

  /** A listener that throws must not stop the publishing loop. */
  private tell<K extends keyof OutboxEvents>(event: K, ...args: OutboxEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: OutboxEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      console.warn(`tapedeck outbox: a '${event}' listener threw: ${String(err)}`);
    }
  }

  private warn(error: unknown, failingForMs: number): void {
    const why = error instanceof Error ? error.message : String(error);
    const w: OutboxWarning = {
      message:
        `${this.bus.describe} has been failing for ${Math.round(failingForMs / 1000)} s; ` +
        `${this.queue.length} events pending in ${this.dir}: ${why}`,
      pending: this.queue.length,
      failingForMs,
      error,
    };
    if (this.listenerCount('warning') > 0) this.tell('warning', w);
    else console.warn(`tapedeck outbox: ${w.message}`);
  }

  /** Resolves once nothing is pending; rejects after timeoutMs with what is left. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.loop === null) throw new Error('the outbox was not started');
    if (this.queue.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    let done: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        done = resolve;
        this.drained.add(resolve);
        timer = setTimeout(() => {
          const why = this.lastError instanceof Error ? `: ${this.lastError.message}` : '';
          reject(
            new Error(
              `outbox: ${this.queue.length} events still pending after ${timeoutMs} ms ` +
                `(they stay in ${this.dir} for the next start)${why}`,
            ),
          );
        }, timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      if (done) this.drained.delete(done);
    }
  }

  /** Stops publishing (pending events stay on disk) and releases the folder. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    if (this.queue.length === 0 && this.appended > 0) await this.compact().catch(() => undefined);
    await this.writes;
    await this.fh.close();
    await releaseLock(this.lockPath);
    this.closed = true;
  }
}

export function openOutbox(opts: OutboxOptions): Promise<Outbox> {
  return Outbox.open(opts);
}
