import type { Deliverer } from '../delivery/deliverer.ts';
import { MediaWorker, WorkerClosedError } from '../media/media-worker.ts';
import type { RecordingSpec } from '../media/pipeline/spec.ts';
import { ensureWritableDir } from '../media/synthetic-recording.ts';
import type { SnippetClosed, WorkerEvent } from '../media/worker/protocol.ts';
import { sessionFor } from './session.ts';

export interface LiveRecordingOptions {
  livestreamId: string;
  spec: Omit<RecordingSpec, 'outDir'>;
  /** Snippets go to the deliverer's spool and on to the store; without one, to outDir. */
  deliverer?: Deliverer;
  outDir?: string;
  onEvent?: (event: WorkerEvent) => void;
  /** Lowest first snippet number: numbering goes on from an earlier run of the same track. */
  startSeq?: number;
  /** A worker process started ahead (from a pool); a new one otherwise. */
  worker?: MediaWorker;
  /** Keep the snippets in the spool until release() or discard() (a takeover not yet confirmed). */
  hold?: boolean;
}

/**
 * One recording that runs until told to stop, changed while it runs (inputs, cameras): what a
 * livestream's hosts need, where the synthetic recorder runs for a fixed time.
 */
export class LiveRecording {
  readonly snippets: SnippetClosed[] = [];
  private readonly journal: Promise<void>[] = [];
  private stopping: Promise<SnippetClosed[]> | undefined;

  /** Number of the first snippet. */
  startSeq = 0;

  private constructor(
    readonly worker: MediaWorker,
    readonly dir: string,
    readonly spec: RecordingSpec,
    private readonly deliverer: Deliverer | undefined,
  ) {}

  static async start(o: LiveRecordingOptions): Promise<LiveRecording> {
    let dir: string;
    let startIndex = 0;
    if (o.deliverer) {
      ({ dir, startIndex } = await o.deliverer.openRecording(
        sessionFor(o.livestreamId, o.spec),
        o.startSeq ?? 0,
      ));
      if (o.hold) await o.deliverer.hold(dir);
    } else {
      if (!o.outDir) throw new Error('a live recording needs a deliverer or an outDir');
      dir = o.outDir;
      startIndex = o.startSeq ?? 0;
      await ensureWritableDir(dir, 'snippets');
    }
    const spec: RecordingSpec = { ...o.spec, outDir: dir };
    const worker = o.worker ?? new MediaWorker();
    const rec = new LiveRecording(worker, dir, spec, o.deliverer);
    const deliverer = o.deliverer;
    worker.on('event', (event) => {
      if (deliverer && event.event === 'snippet-opened')
        rec.track(deliverer.snippetOpened(dir, event.data), o.onEvent);
      else if (deliverer && event.event === 'snippet-closed')
        rec.track(deliverer.snippetClosed(dir, event.data), o.onEvent);
      o.onEvent?.(event);
    });
    // Kept for the life of the recording: without the pictures, which the deliverer has already.
    worker.on('snippet', ({ pictures, ...s }) => {
      void pictures;
      rec.snippets.push(s);
    });
    try {
      rec.startSeq = startIndex;
      const started = await worker.start(spec, startIndex);
      if (deliverer) rec.track(deliverer.workerStarted(dir, worker.pid ?? started.pid), o.onEvent);
    } catch (err) {
      await worker.close();
      if (deliverer) await deliverer.endRecording(dir);
      throw err;
    }
    return rec;
  }

  /**
   * Ends with EOS, so the last snippet is complete; safe to call more than once, and after the
   * media worker died.
   */
  stop(timeoutMs = 15_000): Promise<SnippetClosed[]> {
    this.stopping ??= (async () => {
      try {
        await this.worker.stop(timeoutMs);
      } catch (err) {
        // A worker that died has no EOS to give; the snippet it left open is recovered from the
        // spool when the recording ends below, as after any crash.
        if (!(err instanceof WorkerClosedError)) throw err;
      } finally {
        await this.worker.close();
        await Promise.allSettled(this.journal);
        if (this.deliverer) await this.deliverer.endRecording(this.dir);
      }
      return this.snippets;
    })();
    return this.stopping;
  }

  /** Lets a held recording's snippets go to the store. */
  async release(): Promise<void> {
    if (this.deliverer) await this.deliverer.release(this.dir);
  }

  /** Deletes a held recording's snippets, now and to come; false if it was not held. */
  async discard(): Promise<boolean> {
    return this.deliverer ? this.deliverer.discard(this.dir) : false;
  }

  private track(p: Promise<void>, onEvent?: (event: WorkerEvent) => void): void {
    this.journal.push(p);
    p.catch((err: Error) =>
      onEvent?.({ event: 'warning', data: { source: 'spool journal', message: err.message } }),
    );
  }
}
