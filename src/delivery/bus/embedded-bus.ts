import { watch, type FSWatcher } from 'node:fs';
import {
  access,
  constants,
  mkdir,
  open,
  readFile,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { type CloudEvent, decodeEvent } from '../../domain/cloudevent.ts';
import { assertId } from '../../domain/ids.ts';
import {
  assertPublishable,
  BusError,
  type Delivery,
  type MessageBus,
  type SubscribeOptions,
  type Subscription,
} from './port.ts';
import { fsyncDir, writeFileAtomic } from '../durable-file.ts';

/**
 * The bus that needs no outside service: one append-only log (`events.log`, one
 * CloudEvent per line; empty lines may occur and carry nothing) and one cursor file per subscription, in a folder that
 * several processes on the same machine may share. O_APPEND keeps each line whole
 * between processes on a local filesystem; every process keeps its own index.
 */
export interface EmbeddedBusOptions {
  dir: string;
  /** A delivery neither acked nor nacked comes again after this long. */
  ackTimeoutMs?: number;
  /** A nacked delivery (or one whose handler threw) comes again after this long. */
  redeliverDelayMs?: number;
  /** Fallback look for new lines, in case file watching misses a change. */
  pollMs?: number;
  /** Lines held in memory per subscription beyond its oldest unacked one. */
  maxInFlight?: number;
  onWarning?: (message: string) => void;
}

const LOG = 'events.log';
const CHUNK = 64 * 1024;
/** Each log's publishes and refreshes in this process, one after another (see exclusive). */
const logQueues = new Map<string, Promise<unknown>>();

interface Line {
  offset: number;
  end: number;
  text: string;
}

/**
 * Complete lines from `from` up to `limit`. A last line without its newline is left
 * out: it is either being written right now or was torn by a crash.
 */
async function readLines(
  fh: FileHandle,
  from: number,
  limit: number,
  maxLines: number,
): Promise<{ lines: Line[]; next: number }> {
  const lines: Line[] = [];
  const chunk = Buffer.allocUnsafe(CHUNK);
  let lineStart = from;
  let partial: Buffer[] = [];
  let readPos = from;
  while (readPos < limit && lines.length < maxLines) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(CHUNK, limit - readPos), readPos);
    if (bytesRead === 0) break;
    const data = chunk.subarray(0, bytesRead);
    let start = 0;
    let nl: number;
    while ((nl = data.indexOf(10, start)) !== -1) {
      const part = data.subarray(start, nl);
      const bytes = partial.length > 0 ? Buffer.concat([...partial, part]) : part;
      const end = readPos + nl + 1;
      lines.push({ offset: lineStart, end, text: bytes.toString('utf8') });
      lineStart = end;
      partial = [];
      start = nl + 1;
      if (lines.length >= maxLines) return { lines, next: lineStart };
    }
    if (start < bytesRead) partial.push(Buffer.from(data.subarray(start)));
    readPos += bytesRead;
  }
  return { lines, next: lineStart };
}

/** The id of a line that holds a valid event; torn or foreign lines have none and are skipped. */
function idOf(text: string): string | null {
  try {
    return decodeEvent(text).id;
  } catch {
    return null;
  }
}

export class EmbeddedBus implements MessageBus {
  readonly describe: string;
  readonly dir: string;
  readonly ackTimeoutMs: number;
  readonly redeliverDelayMs: number;
  readonly pollMs: number;
  readonly maxInFlight: number;
  readonly warn: (message: string) => void;
  /** Bytes of the log read into `firstOffset`, always at a line boundary. */
  indexed = 0;
  /** Where each id first appears: later copies of an id are not delivered. */
  readonly firstOffset = new Map<string, number>();
  private readonly subs = new Set<EmbeddedSubscription>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly fh: FileHandle,
    opts: EmbeddedBusOptions,
  ) {
    this.dir = opts.dir;
    this.describe = `embedded:${opts.dir}`;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.redeliverDelayMs = opts.redeliverDelayMs ?? 1_000;
    this.pollMs = opts.pollMs ?? 2_000;
    this.maxInFlight = opts.maxInFlight ?? 256;
    this.warn = opts.onWarning ?? ((m) => console.warn(`tapedeck bus: ${m}`));
  }

  static async open(opts: EmbeddedBusOptions): Promise<EmbeddedBus> {
    await mkdir(join(opts.dir, 'subscriptions'), { recursive: true });
    const fh = await open(join(opts.dir, LOG), 'a+');
    try {
      // The log's own folder entry must survive a power cut too.
      await fsyncDir(opts.dir);
      const bus = new EmbeddedBus(fh, opts);
      await bus.refresh();
      return bus;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get logPath(): string {
    return join(this.dir, LOG);
  }

  /**
   * Runs `fn` after every earlier publish or refresh of this process on the same log, by this
   * bus or another one open on it: one may not look at the log's last byte while another's line
   * is half written, or it would start its own on a new line and leave an empty one.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const key = resolve(this.logPath);
    const run = (logQueues.get(key) ?? Promise.resolve()).then(fn);
    const settled = run.catch(() => undefined);
    logQueues.set(key, settled);
    this.queue = settled;
    void settled.then(() => {
      if (logQueues.get(key) === settled) logQueues.delete(key);
    });
    return run;
  }

  /** Indexes lines appended since the last look, by this or any other process. */
  refresh(): Promise<void> {
    return this.exclusive(() => this.refreshNow());
  }

  private async refreshNow(): Promise<void> {
    const { size } = await this.fh.stat();
    while (this.indexed < size) {
      // In batches, so that opening a long log does not hold all of it in memory at once.
      const { lines, next } = await readLines(this.fh, this.indexed, size, 10_000);
      for (const line of lines) {
        const id = idOf(line.text);
        if (id !== null && !this.firstOffset.has(id)) this.firstOffset.set(id, line.offset);
      }
      if (next === this.indexed) break;
      this.indexed = next;
    }
  }

  private async endsMidLine(): Promise<boolean> {
    const { size } = await this.fh.stat();
    if (size <= this.indexed) return false;
    // Lines other processes appended since our last look end in a newline too.
    const last = Buffer.alloc(1);
    const { bytesRead } = await this.fh.read(last, 0, 1, size - 1);
    return bytesRead === 1 && last[0] !== 10;
  }

  async check(): Promise<void> {
    if (this.closed) throw new BusError(`${this.describe} is closed`, false);
    try {
      await access(this.dir, constants.W_OK);
      await this.fh.stat();
    } catch (err) {
      throw new BusError(`${this.describe} is not usable: ${(err as Error).message}`, false, {
        cause: err,
      });
    }
  }

  async publish(event: CloudEvent): Promise<void> {
    assertPublishable(event);
    if (this.closed) throw new BusError(`${this.describe} is closed`, false);
    const line = Buffer.from(JSON.stringify(event) + '\n', 'utf8');
    await this.exclusive(async () => {
      await this.refreshNow();
      if (this.firstOffset.has(event.id)) return;
      // A log that does not end in a newline ends in a line torn by a crashed writer (or,
      // rarely, one another process is writing right now): start ours on a new line so it
      // cannot be spoiled. At worst that leaves an empty line, which readers skip.
      const bytes = (await this.endsMidLine()) ? Buffer.concat([Buffer.from('\n'), line]) : line;
      try {
        // One write call: with O_APPEND another process cannot land inside it.
        const { bytesWritten } = await this.fh.write(bytes);
        if (bytesWritten !== bytes.length) throw new Error('short write (disk full?)');
        await this.fh.datasync();
      } catch (err) {
        throw new BusError(`${this.describe}: cannot append: ${(err as Error).message}`, true, {
          cause: err,
        });
      }
      await this.refreshNow();
    });
    for (const sub of this.subs) sub.wake();
  }

  async subscribe(
    opts: SubscribeOptions,
    handler: (d: Delivery) => Promise<void>,
  ): Promise<Subscription> {
    assertId('subscription name', opts.name);
    if (this.closed) throw new BusError(`${this.describe} is closed`, false);
    await this.refresh();
    const sub = await EmbeddedSubscription.start(this, opts, handler, () => this.subs.delete(sub));
    this.subs.add(sub);
    return sub;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subs].map((s) => s.close()));
    await this.queue;
    await this.fh.close();
  }
}

interface Entry {
  offset: number;
  end: number;
  /** null: nothing to deliver here (filtered, duplicate or unreadable), counts as acked. */
  event: CloudEvent | null;
  state: 'ready' | 'out' | 'acked';
  /** When a ready entry may go out, or when an out entry counts as lost. */
  dueAt: number;
}

class EmbeddedSubscription implements Subscription {
  private readonly cursorPath: string;
  /** Start of the first line not acked yet, as last written to the cursor file. */
  private saved: number;
  private cursor: number;
  private readPos: number;
  private window: Entry[] = [];
  private running = false;
  private again = false;
  private stopping = false;
  private closed = false;
  private current: Promise<void> = Promise.resolve();
  private writes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout;
  private watcher: FSWatcher | undefined;
  private warnedUnreadable = false;

  private constructor(
    private readonly bus: EmbeddedBus,
    private readonly opts: SubscribeOptions,
    private readonly handler: (d: Delivery) => Promise<void>,
    private readonly onClose: () => void,
    start: number,
  ) {
    this.cursorPath = join(bus.dir, 'subscriptions', `${opts.name}.json`);
    this.saved = start;
    this.cursor = start;
    this.readPos = start;
    this.poll = setInterval(() => this.wake(), bus.pollMs);
    this.poll.unref();
    try {
      this.watcher = watch(bus.logPath, () => this.wake());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // Some filesystems cannot be watched; the poll still finds new lines.
    }
  }

  static async start(
    bus: EmbeddedBus,
    opts: SubscribeOptions,
    handler: (d: Delivery) => Promise<void>,
    onClose: () => void,
  ): Promise<EmbeddedSubscription> {
    const path = join(bus.dir, 'subscriptions', `${opts.name}.json`);
    let start: number;
    let fresh = false;
    try {
      const saved = JSON.parse(await readFile(path, 'utf8')) as { offset?: unknown };
      if (typeof saved.offset !== 'number' || !Number.isInteger(saved.offset) || saved.offset < 0)
        throw new Error(`no offset in ${path}`);
      start = Math.min(saved.offset, bus.indexed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new BusError(`${bus.describe}: cursor of "${opts.name}" is unreadable`, false, {
          cause: err,
        });
      }
      start = opts.startAt === 'new' ? bus.indexed : 0;
      fresh = true;
    }
    const sub = new EmbeddedSubscription(bus, opts, handler, onClose, start);
    // Written at once so that "new" means from now on, also after a restart.
    if (fresh) await writeFileAtomic(path, `{"offset":${start}}\n`, join(bus.dir, 'subscriptions'));
    sub.wake();
    return sub;
  }

  wake(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.current = this.pump()
      .catch((err: unknown) => this.bus.warn(`subscription "${this.opts.name}": ${String(err)}`))
      .finally(() => {
        this.running = false;
        this.schedule();
      });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      await this.readMore();
      await this.advance();
      for (const entry of [...this.window]) {
        if (this.stopping) return;
        if (entry.state === 'acked' || entry.dueAt > Date.now()) continue;
        await this.deliver(entry);
      }
    } while (this.again && !this.stopping);
  }

  private async readMore(): Promise<void> {
    const room = this.bus.maxInFlight - this.window.length;
    if (room <= 0) return;
    await this.bus.refresh();
    if (this.readPos >= this.bus.indexed) return;
    const { lines, next } = await readLines(this.bus.fh, this.readPos, this.bus.indexed, room);
    for (const line of lines) this.window.push(this.entryFor(line));
    this.readPos = next;
  }

  private entryFor(line: Line): Entry {
    const entry: Entry = {
      offset: line.offset,
      end: line.end,
      event: null,
      state: 'acked',
      dueAt: 0,
    };
    if (line.text.length === 0) return entry;
    let event: CloudEvent;
    try {
      event = decodeEvent(line.text);
    } catch (err) {
      if (!this.warnedUnreadable) {
        this.warnedUnreadable = true;
        this.bus.warn(`skipping an unreadable line at byte ${line.offset}: ${String(err)}`);
      }
      return entry;
    }
    if (this.bus.firstOffset.get(event.id) !== line.offset) return entry;
    if (this.opts.typePrefix !== undefined && !event.type.startsWith(this.opts.typePrefix))
      return entry;
    return { ...entry, event, state: 'ready' };
  }

  private async deliver(entry: Entry): Promise<void> {
    const event = entry.event;
    if (event === null) return;
    entry.state = 'out';
    entry.dueAt = Date.now() + this.bus.ackTimeoutMs;
    let settled = false;
    const delivery: Delivery = {
      event,
      ack: async () => {
        if (settled || this.closed) return;
        settled = true;
        entry.state = 'acked';
        await this.advance();
      },
      nack: async () => {
        if (settled || this.closed) return;
        settled = true;
        if (entry.state === 'acked') return;
        entry.state = 'ready';
        entry.dueAt = Date.now() + this.bus.redeliverDelayMs;
      },
    };
    try {
      await this.handler(delivery);
    } catch {
      await delivery.nack();
    }
  }

  /** Moves the cursor over the acked lines at the head and writes it down. */
  private advance(): Promise<void> {
    let n = 0;
    while (n < this.window.length && this.window[n]!.state === 'acked') n++;
    if (n > 0) {
      this.cursor = this.window[n - 1]!.end;
      this.window.splice(0, n);
    }
    const write = this.writes.then(async () => {
      if (this.cursor === this.saved) return;
      const offset = this.cursor;
      await writeFileAtomic(
        this.cursorPath,
        `{"offset":${offset}}\n`,
        join(this.bus.dir, 'subscriptions'),
      );
      this.saved = offset;
    });
    this.writes = write.catch(() => undefined);
    return write;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopping) return;
    let due = Infinity;
    for (const e of this.window) if (e.state !== 'acked') due = Math.min(due, e.dueAt);
    if (due === Infinity) return;
    this.timer = setTimeout(() => this.wake(), Math.max(0, due - Date.now()) + 5);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.poll);
    clearTimeout(this.timer);
    this.watcher?.close();
    // The handler running now may still ack; that ack counts.
    await this.current;
    await this.writes;
    if (this.opts.transient) await unlink(this.cursorPath).catch(() => undefined);
    this.closed = true;
    this.onClose();
  }
}

export function openEmbeddedBus(opts: EmbeddedBusOptions): Promise<EmbeddedBus> {
  return EmbeddedBus.open(opts);
}
