import { EventEmitter } from 'node:events';
import { mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudEvent } from '../domain/cloudevent.ts';
import { picturesProblems } from '../domain/picture-stats.ts';
import type { VideoWindow } from '../domain/quality-rules.ts';
import { snippetReadyEvent } from '../domain/snippet-event.ts';
import { snippetKey } from '../domain/snippet-key.ts';
import type { SnippetClosed, SnippetOpened } from '../media/worker/protocol.ts';
import { checkSnippet, repairSnippet } from './check/snippet-check.ts';
import { sha256File } from './file-hash.ts';
import { InotifyWatcher } from './inotify-watcher.ts';
import { processAlive } from './process-alive.ts';
import {
  highestSeq,
  readJournal,
  type JournalState,
  type RecordingSession,
  SpoolJournal,
} from './spool-journal.ts';
import { ConflictError, type ObjectStore, StoreError } from './store/port.ts';

/**
 * Pictures the event may carry: a worker's measurement that does not fit the snippet (which the
 * event's schema would refuse) is left out, and scoring measures the file instead.
 */
function usablePictures(pictures: VideoWindow[], durationMs: number): boolean {
  return picturesProblems(pictures, durationMs / 1000).length === 0;
}

/** The part of the outbox the deliverer needs: a durable, idempotent add. */
export interface EventSink {
  add(event: CloudEvent): Promise<void>;
}

export interface DelivererOptions {
  spoolRoot: string;
  quarantineRoot: string;
  store: ObjectStore;
  outbox: EventSink;
  /** Spool size at which 'spool-full' is raised (the store has been down too long). */
  maxSpoolBytes?: number;
  /** How long a closed snippet waits for inotify's close-write before it is checked anyway. */
  closeWaitMs?: number;
  retryFirstMs?: number;
  retryMaxMs?: number;
  /** Snippets delivered at once; recordings started together close their snippets together. */
  concurrency?: number;
  /** Marker in a media worker's command line, to tell whether a journal's worker still runs. */
  workerMarker?: string;
}

export interface DeliveredSnippet {
  key: string;
  livestreamId: string;
  recordingId: string;
  track: string;
  seq: number;
  bytes: number;
  sha256: string;
  startUtcMs: number;
  endUtcMs: number;
  durationMs: number;
  recovered: boolean;
  outcome: 'created' | 'exists';
  eventId: string;
  /** Wall-clock ms when the store confirmed the object and when the event was in the outbox. */
  storedAtMs: number;
  queuedAtMs: number;
  /** Wall-clock ms when the pipeline reported the snippet closed (0 for leftovers) and when its delivery began. */
  closedAtMs: number;
  startedAtMs: number;
}

export interface DelivererEvents {
  delivered: [DeliveredSnippet];
  quarantined: [{ path: string; reason: string }];
  warning: [string];
  'spool-full': [{ bytes: number; maxBytes: number }];
}

interface Recording {
  dir: string;
  session: RecordingSession | null;
  journal: SpoolJournal;
  state: JournalState;
  live: boolean;
  /** Files inotify saw closed or moved in. */
  doneFiles: Set<string>;
  /** Snippets ready while the recording is held, by number. */
  held: Map<number, string>;
}

interface Task {
  rec: Recording;
  seq: number;
  file: string;
}

const SNIPPET_FILE = /^(.+)_(\d{6})\.(mp4|mp3)$/;

export class Deliverer extends EventEmitter<DelivererEvents> {
  private readonly recordings = new Map<string, Recording>();
  private readonly queue: Task[] = [];
  private readonly queued = new Set<string>();
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  /** When fragment-closed arrived, per `${dir}#${seq}`: the breakdown of availability starts there. */
  private readonly closedAt = new Map<string, number>();
  private watcher: InotifyWatcher | null = null;
  private running = 0;
  private idle: (() => void)[] = [];
  private closed = false;
  private storeFailingSince = 0;
  private lastWarning = 0;
  private readonly opts: Required<DelivererOptions>;

  constructor(options: DelivererOptions) {
    super();
    this.opts = {
      maxSpoolBytes: 4 * 1024 ** 3,
      closeWaitMs: 2000,
      retryFirstMs: 250,
      retryMaxMs: 10_000,
      workerMarker: 'media/worker/main',
      concurrency: 8,
      ...options,
    };
  }

  /** Watches the spool and delivers whatever earlier runs left in it. */
  async start(): Promise<void> {
    await mkdir(this.opts.spoolRoot, { recursive: true });
    this.watcher = new InotifyWatcher(this.opts.spoolRoot);
    this.watcher.on('done', (d) => this.onFileDone(d.path));
    this.watcher.on('error', (err) =>
      this.emit('warning', `${err.message}; falling back to fragment-closed alone`),
    );
    await this.watcher.start();
    await this.rescan();
  }

  /** Delivers leftovers of every recording in the spool that no process of ours is recording. */
  async rescan(): Promise<void> {
    for (const livestream of await dirNames(this.opts.spoolRoot)) {
      for (const recording of await dirNames(join(this.opts.spoolRoot, livestream))) {
        const dir = join(this.opts.spoolRoot, livestream, recording);
        if (this.recordings.get(dir)?.live) continue;
        await this.recoverDir(dir);
      }
    }
  }

  /**
   * Prepares a recording's spool folder; leftovers of an earlier run of the same recording are
   * delivered first, and numbering continues after them.
   */
  async openRecording(
    session: RecordingSession,
    minStartIndex = 0,
  ): Promise<{ dir: string; startIndex: number }> {
    const dir = join(this.opts.spoolRoot, session.livestreamId, session.recordingId);
    await mkdir(dir, { recursive: true });
    await this.recoverDir(dir);
    // recoverDir removes the folder of a recording that ended cleanly before.
    await mkdir(dir, { recursive: true });
    const rec = await this.load(dir);
    rec.session = session;
    rec.state.session = session;
    rec.live = true;
    rec.state.ended = false;
    await rec.journal.append({ t: 'session', at: new Date().toISOString(), ...session });
    return { dir, startIndex: Math.max(minStartIndex, highestSeq(rec.state) + 1) };
  }

  async workerStarted(dir: string, pid: number): Promise<void> {
    const rec = this.must(dir);
    rec.state.workerPids.push(pid);
    await rec.journal.append({ t: 'worker', pid });
  }

  async snippetOpened(dir: string, s: SnippetOpened): Promise<void> {
    const rec = this.must(dir);
    const file = basename(s.location);
    rec.state.opened.set(s.seq, { file, startUtcNs: BigInt(s.utcNs) });
    await rec.journal.append({ t: 'opened', seq: s.seq, file, startUtcNs: s.utcNs });
  }

  async snippetClosed(dir: string, s: SnippetClosed): Promise<void> {
    const rec = this.must(dir);
    const file = basename(s.location);
    this.closedAt.set(`${dir}#${s.seq}`, Date.now());
    const pictures = s.pictures ? { pictures: s.pictures } : {};
    rec.state.closed.set(s.seq, {
      file,
      startUtcNs: BigInt(s.startUtcNs),
      endUtcNs: BigInt(s.endUtcNs),
      ...pictures,
    });
    await rec.journal.append({
      t: 'closed',
      seq: s.seq,
      file,
      startUtcNs: s.startUtcNs,
      endUtcNs: s.endUtcNs,
      ...pictures,
    });
    if (rec.doneFiles.has(file)) this.enqueue(rec, s.seq, file);
    else {
      // inotify normally reports the close first; if it never does, check the file anyway.
      const id = `${dir}#${s.seq}`;
      this.waiting.set(
        id,
        setTimeout(() => {
          this.waiting.delete(id);
          this.enqueue(rec, s.seq, file);
        }, this.opts.closeWaitMs),
      );
    }
    await this.checkSpoolSize();
  }

  /**
   * Keeps the recording's snippets in the spool until release() or discard(): it took over a
   * track whose earlier recording may still be running in a worker nobody could reach, and only
   * one of the two may reach the store.
   */
  async hold(dir: string): Promise<void> {
    const rec = this.must(dir);
    rec.state.hold = 'held';
    await rec.journal.append({ t: 'held' });
  }

  /** A held recording is the track's only one: what it made so far goes out, the rest as it comes. */
  async release(dir: string): Promise<void> {
    const rec = this.must(dir);
    if (rec.state.hold !== 'held') return;
    rec.state.hold = 'released';
    await rec.journal.append({ t: 'released' });
    const held = [...rec.held];
    rec.held.clear();
    for (const [seq, file] of held) this.enqueue(rec, seq, file);
  }

  /**
   * A held recording repeats one that turned out to be running all along: its snippets are
   * deleted, never delivered. Returns false (and keeps everything) if it was not held.
   */
  async discard(dir: string): Promise<boolean> {
    const rec = this.must(dir);
    if (rec.state.hold !== 'held') return false;
    rec.state.hold = 'discarded';
    await rec.journal.append({ t: 'discarded' });
    const held = [...rec.held.values()];
    rec.held.clear();
    for (const file of held) await unlink(join(rec.dir, file)).catch(() => undefined);
    await this.maybeForget(rec);
    return true;
  }

  /** The recording stopped (or its worker died): whatever it left open is recovered as a leftover. */
  async endRecording(dir: string): Promise<void> {
    const rec = this.must(dir);
    rec.live = false;
    rec.state.ended = true;
    await rec.journal.append({ t: 'ended' });
    // Closed snippets still waiting for inotify are queued already; the rest are leftovers.
    await this.recoverDir(dir);
  }

  /**
   * Resolves true once a recording that ended has every snippet delivered (its spool folder is
   * gone), false after `timeoutMs`.
   */
  async settled(dir: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.recordings.has(dir)) {
      if (Date.now() >= deadline || this.closed) return false;
      await sleep(100);
    }
    return true;
  }

  /** Resolves when every queued snippet is delivered (or quarantined), or after `timeoutMs`. */
  async drain(timeoutMs = Infinity): Promise<boolean> {
    if (this.isIdle()) return true;
    const idle = new Promise<true>((resolve) => this.idle.push(() => resolve(true)));
    if (!Number.isFinite(timeoutMs)) return idle;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>(
      (resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)),
    );
    const done = await Promise.race([idle, late]);
    clearTimeout(timer);
    return done;
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.running === 0 && this.waiting.size === 0;
  }

  pendingCount(): number {
    return this.queue.length + this.running + this.waiting.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.waiting.values()) clearTimeout(t);
    this.waiting.clear();
    await this.watcher?.close();
    for (const rec of this.recordings.values()) await rec.journal.close();
    this.recordings.clear();
  }

  private must(dir: string): Recording {
    const rec = this.recordings.get(dir);
    if (!rec) throw new Error(`recording ${dir} was not opened`);
    return rec;
  }

  private async load(dir: string): Promise<Recording> {
    const known = this.recordings.get(dir);
    if (known) return known;
    const state = await readJournal(dir);
    const rec: Recording = {
      dir,
      session: state.session,
      journal: await SpoolJournal.open(dir),
      state,
      live: false,
      doneFiles: new Set(),
      held: new Map(),
    };
    this.recordings.set(dir, rec);
    return rec;
  }

  /** Leftovers: closed snippets not yet delivered, and files a crash left open. */
  private async recoverDir(dir: string): Promise<void> {
    const rec = await this.load(dir);
    if (rec.live) return;
    const files = (await readdir(dir)).filter((f) => SNIPPET_FILE.test(f)).sort();
    if (!rec.state.session) {
      for (const f of files)
        await this.quarantine(rec, -1, f, 'the spool folder has no journal saying what it records');
      return;
    }
    rec.session = rec.state.session;
    const unclosed = [...rec.state.opened.keys()].filter(
      (seq) =>
        !rec.state.closed.has(seq) &&
        !rec.state.delivered.has(seq) &&
        !rec.state.quarantined.has(seq),
    );
    if (files.length > 0 || unclosed.length > 0) await this.waitForOldWorkers(rec);
    const vacated = new Set<string>();
    for (const seq of unclosed) {
      const file = await this.vacateIfEmpty(rec, seq);
      if (file) vacated.add(file);
    }
    const leftovers = files.filter((f) => !vacated.has(f));
    if (rec.state.hold === 'held') {
      // Nobody said whether it or the recording it took over from is the track's: storing it
      // could store the same moments twice, deleting it could lose them. Kept aside, with why.
      rec.held.clear();
      for (const f of leftovers)
        await this.quarantine(
          rec,
          Number(SNIPPET_FILE.exec(f)![2]),
          f,
          'held for a takeover that was never confirmed: the recording it took over from may have stored the same moments',
        );
    } else if (rec.state.hold === 'discarded') {
      for (const f of leftovers) await unlink(join(dir, f)).catch(() => undefined);
    } else for (const f of leftovers) this.enqueue(rec, Number(SNIPPET_FILE.exec(f)![2]), f);
    await this.maybeForget(rec);
  }

  /**
   * A snippet a crashed run opened, of which nothing was written: an empty file, or one without
   * a millisecond of media. Its number goes back to the recording; the file, if any,
   * goes. Returns the file's name when so.
   */
  private async vacateIfEmpty(rec: Recording, seq: number): Promise<string | null> {
    const opened = rec.state.opened.get(seq);
    if (!opened || !rec.session) return null;
    const path = join(rec.dir, opened.file);
    // A missing file may have been stored or set aside by a run that died before its journal
    // said so: its number stays used.
    const size = await stat(path).then(
      (st) => st.size,
      () => null,
    );
    if (size === null) return null;
    if (size > 0) {
      const check = await checkSnippet(path, rec.session.variant);
      if (check.status === 'invalid' || check.durationMs >= 1) return null;
    }
    await unlink(path).catch(() => undefined);
    rec.state.opened.delete(seq);
    await rec.journal.append({ t: 'vacated', seq });
    this.emit(
      'warning',
      `${path}: opened by a run that stopped before writing any of it; its number is used again`,
    );
    return opened.file;
  }

  /** A recording that ended with everything delivered needs its spool folder no more. */
  private async maybeForget(rec: Recording): Promise<void> {
    if (rec.live || !rec.state.ended || !this.recordings.has(rec.dir)) return;
    if (
      this.queue.some((t) => t.rec === rec) ||
      [...this.waiting.keys()].some((k) => k.startsWith(`${rec.dir}#`))
    )
      return;
    if (this.running > 0 && [...this.queued].some((k) => k.startsWith(`${rec.dir}#`))) return;
    const left = (await readdir(rec.dir).catch(() => [] as string[])).filter((f) =>
      SNIPPET_FILE.test(f),
    );
    if (left.length === 0) await this.forget(rec);
  }

  /** A worker whose parent died finishes its last snippet with EOS; wait for it before touching the file. */
  private async waitForOldWorkers(rec: Recording): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (const pid of rec.state.workerPids) {
      if (pid === process.pid) continue;
      while ((await processAlive(pid, this.opts.workerMarker)) && Date.now() < deadline)
        await sleep(200);
    }
  }

  private async forget(rec: Recording): Promise<void> {
    await rec.journal.close();
    this.recordings.delete(rec.dir);
    await rm(rec.dir, { recursive: true, force: true });
  }

  private onFileDone(path: string): void {
    const rec = this.recordings.get(dirname(path));
    const file = basename(path);
    const m = SNIPPET_FILE.exec(file);
    if (!rec || !m) return;
    rec.doneFiles.add(file);
    const seq = Number(m[2]);
    const id = `${rec.dir}#${seq}`;
    const timer = this.waiting.get(id);
    if (timer) {
      clearTimeout(timer);
      this.waiting.delete(id);
      this.enqueue(rec, seq, file);
    }
  }

  private enqueue(rec: Recording, seq: number, file: string): void {
    const id = `${rec.dir}#${seq}`;
    if (this.queued.has(id) || this.closed) return;
    if (rec.state.hold === 'held') {
      rec.held.set(seq, file);
      return;
    }
    if (rec.state.hold === 'discarded') {
      void unlink(join(rec.dir, file))
        .catch(() => undefined)
        .then(() => this.maybeForget(rec))
        .catch(() => undefined);
      return;
    }
    this.queued.add(id);
    this.queue.push({ rec, seq, file });
    this.pump();
  }

  private pump(): void {
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const task = this.queue.shift()!;
      this.running++;
      void this.run(task)
        .finally(async () => {
          this.running--;
          this.queued.delete(`${task.rec.dir}#${task.seq}`);
          await this.maybeForget(task.rec).catch(() => undefined);
          this.pump();
          if (this.isIdle()) {
            const idle = this.idle;
            this.idle = [];
            idle.forEach((r) => r());
          }
        })
        .catch((err: Error) =>
          this.emit('warning', `delivery of ${task.file} stopped: ${err.message}`),
        );
    }
  }

  /** Retries while the store is unreachable: the file stays in the spool until the store has it. */
  private async run(task: Task): Promise<void> {
    let delay = this.opts.retryFirstMs;
    while (!this.closed) {
      try {
        await this.deliver(task);
        this.storeFailingSince = 0;
        return;
      } catch (err) {
        if (err instanceof StoreError && !err.retryable && !(err instanceof ConflictError)) {
          await this.quarantine(task.rec, task.seq, task.file, err.message);
          return;
        }
        if (!(err instanceof StoreError)) {
          this.emit(
            'warning',
            `delivering ${task.file} failed: ${(err as Error).message}; retrying`,
          );
        } else await this.warnStoreDown(err);
        await sleep(delay);
        delay = Math.min(delay * 2, this.opts.retryMaxMs);
      }
    }
  }

  private async deliver({ rec, seq, file }: Task): Promise<void> {
    const path = join(rec.dir, file);
    const startedAtMs = Date.now();
    const closedAtMs = this.closedAt.get(`${rec.dir}#${seq}`) ?? 0;
    const { session, state } = rec;
    if (!session) {
      await this.quarantine(
        rec,
        seq,
        file,
        'the spool folder has no journal saying what it records',
      );
      return;
    }
    if (state.delivered.has(seq)) {
      await unlink(path).catch(() => undefined);
      return;
    }
    if (state.quarantined.has(seq)) return;
    try {
      await stat(path);
    } catch {
      this.emit('warning', `${path} disappeared before it was delivered`);
      return;
    }
    const check = await checkSnippet(path, session.variant);
    const closed = state.closed.get(seq);
    const opened = state.opened.get(seq);
    let startNs: bigint;
    let endNs: bigint;
    let recovered = false;
    let pictures: VideoWindow[] | undefined;
    if (closed && check.status === 'complete') {
      startNs = closed.startUtcNs;
      endNs = closed.endUtcNs;
      pictures = closed.pictures;
    } else if (check.status !== 'invalid' && (opened || closed)) {
      // Cut short by a crash: the journal knows when it started, the file how long it lasted.
      if (check.status === 'repairable')
        await repairSnippet(path, session.variant, check.repairedSize);
      startNs = (opened ?? closed)!.startUtcNs;
      endNs = startNs + BigInt(Math.round(check.durationMs * 1e6));
      recovered = true;
    } else {
      const reason =
        check.status === 'invalid'
          ? `not a valid ${session.variant.toUpperCase()} snippet: ${check.problem}`
          : 'the journal has no start time for this file';
      await this.quarantine(rec, seq, file, reason);
      return;
    }
    const startMs = Math.floor(Number(startNs / 1000n) / 1000);
    const endMs = Math.floor(Number(endNs / 1000n) / 1000);
    if (endMs <= startMs) {
      await this.quarantine(rec, seq, file, 'the snippet is shorter than a millisecond');
      return;
    }
    const { sha256, bytes } = await sha256File(path);
    const key = snippetKey({
      livestreamId: session.livestreamId,
      track: session.track,
      variant: session.variant,
      startMs,
      seq,
    });
    const event = snippetReadyEvent({
      livestreamId: session.livestreamId,
      recordingId: session.recordingId,
      track: session.track,
      hostId: session.track.startsWith('host-') ? session.track.slice(5) : null,
      variant: session.variant,
      seq,
      start: new Date(startMs).toISOString(),
      end: new Date(endMs).toISOString(),
      durationMs: endMs - startMs,
      bytes,
      sha256,
      key,
      ...(recovered ? { recovered } : {}),
      media: { container: session.variant, ...session.media },
      ...(pictures && usablePictures(pictures, endMs - startMs) ? { pictures } : {}),
    });
    let outcome: 'created' | 'exists';
    try {
      ({ outcome } = await this.opts.store.putFile(key, path, {
        sha256,
        // The spool file is removed once delivered, and never written again.
        handOver: true,
        contentType: session.variant === 'mp4' ? 'video/mp4' : 'audio/mpeg',
        metadata: {
          'livestream-id': session.livestreamId,
          'recording-id': session.recordingId,
          track: session.track,
          seq: String(seq),
          start: event.data.start,
          end: event.data.end,
          'event-id': event.id,
        },
      }));
    } catch (err) {
      if (err instanceof ConflictError) {
        await this.quarantine(rec, seq, file, err.message);
        return;
      }
      throw err;
    }
    const storedAtMs = Date.now();
    await this.opts.outbox.add(event);
    const queuedAtMs = Date.now();
    state.delivered.set(seq, key);
    await rec.journal.append({ t: 'delivered', seq, key });
    await unlink(path);
    this.closedAt.delete(`${rec.dir}#${seq}`);
    this.emit('delivered', {
      key,
      livestreamId: session.livestreamId,
      recordingId: session.recordingId,
      track: session.track,
      seq,
      bytes,
      sha256,
      startUtcMs: startMs,
      endUtcMs: endMs,
      durationMs: endMs - startMs,
      recovered,
      outcome,
      eventId: event.id,
      storedAtMs,
      queuedAtMs,
      closedAtMs,
      startedAtMs,
    });
  }

  /** Never delete what cannot be delivered: move it aside with the reason next to it. */
  private async quarantine(
    rec: Recording,
    seq: number,
    file: string,
    reason: string,
  ): Promise<void> {
    const rel = rec.dir.slice(this.opts.spoolRoot.length + 1);
    const to = join(this.opts.quarantineRoot, rel);
    await mkdir(to, { recursive: true });
    await rename(join(rec.dir, file), join(to, file));
    await writeFile(join(to, `${file}.reason.txt`), reason + '\n');
    if (seq >= 0) {
      rec.state.quarantined.add(seq);
      await rec.journal.append({ t: 'quarantined', seq, file, reason });
    }
    this.emit('quarantined', { path: join(to, file), reason });
  }

  private async spoolBytes(): Promise<{ bytes: number; files: number }> {
    let bytes = 0;
    let files = 0;
    for (const rec of this.recordings.values()) {
      for (const f of await readdir(rec.dir).catch(() => [] as string[])) {
        if (!SNIPPET_FILE.test(f)) continue;
        files++;
        bytes += await stat(join(rec.dir, f)).then(
          (s) => s.size,
          () => 0,
        );
      }
    }
    return { bytes, files };
  }

  private async checkSpoolSize(): Promise<void> {
    if (this.storeFailingSince === 0) return;
    const { bytes } = await this.spoolBytes();
    if (bytes >= this.opts.maxSpoolBytes)
      this.emit('spool-full', { bytes, maxBytes: this.opts.maxSpoolBytes });
  }

  private async warnStoreDown(err: StoreError): Promise<void> {
    const now = Date.now();
    if (this.storeFailingSince === 0) this.storeFailingSince = now;
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    const { bytes, files } = await this.spoolBytes();
    this.emit(
      'warning',
      `store ${this.opts.store.describe} is failing for ${Math.round((now - this.storeFailingSince) / 1000)} s ` +
        `(${err.message}); ${files} snippets (${(bytes / 1e6).toFixed(1)} MB of ` +
        `${(this.opts.maxSpoolBytes / 1e6).toFixed(0)} MB allowed) wait in ${this.opts.spoolRoot} and will be delivered when it is back`,
    );
  }
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
