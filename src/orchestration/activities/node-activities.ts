import { createHash, randomUUID } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Deliverer, EventSink } from '../../delivery/deliverer.ts';
import { gapCloudEvent, type RecordingGap } from '../../domain/gap-event.ts';
import { heldUpCloudEvent } from '../../domain/held-up-event.ts';
import { recordingTrack } from '../../domain/snippet-key.ts';
import type { IngestPort } from '../../ingest/ingest-port.ts';
import type { MediaWorkerPool } from '../../media/media-worker-pool.ts';
import type { RecordingSpec } from '../../media/pipeline/spec.ts';
import type { WorkerEvent } from '../../media/worker/protocol.ts';
import {
  IngestFollower,
  portsOf,
  hostSource,
  viewOfSnapshot,
} from '../../recorder/ingest-follower.ts';
import { LiveRecording } from '../../recorder/live-recording.ts';
import type {
  NodeActivities,
  RecordingHandle,
  RecordingProgress,
  RecordingRequest,
  RecordingResult,
} from '../contracts.ts';
import { waitWhileStopping } from './lease-wait.ts';

export interface NodeActivityDeps {
  ingest: IngestPort;
  deliverer: Deliverer;
  outbox: EventSink;
  log?: (line: string) => void;
  /** Media worker processes started ahead of need. */
  pool?: MediaWorkerPool;
  /** Called for every gap announced. */
  onGap?: (gap: RecordingGap) => void;
  /** This process's own task queue, where leases and stops of its recordings are sent. */
  workerQueue: string;
  /** A recording nobody holds a lease on for this long is ended (its workflow is gone). */
  leaseGraceMs?: number;
  /** Told of every lease and its progress: the node that supervises this process. */
  leases?: LeaseReporter;
}

/** Where a worker process reports its leases to its node (see worker-report.ts). */
export interface LeaseReporter {
  held(taskToken: Uint8Array, handle: RecordingHandle, progress: RecordingProgress): void;
  progress(handleId: string, progress: RecordingProgress): void;
  ended(taskToken: Uint8Array): void;
}

interface Entry {
  handle: RecordingHandle;
  key: string;
  recording: LiveRecording;
  follower: IngestFollower;
  progress: RecordingProgress;
  leases: number;
  leaseLapsedAt: number;
  /** Set once EOS was asked for; resolves when the last snippet is finished. */
  stopping: Promise<RecordingResult> | null;
  /** Set when the media worker died, with what it had done by then. */
  failure: { error: Error; progress: RecordingProgress } | null;
  changed: () => void;
  changes: Promise<void>;
}

/** A host's first sound this long after its input joined a recording is logged. */
const LATE_SOUND_NS = 1e9;

const secondsBetween = (d: { earliestNs: string; latestNs: string }) =>
  `${(Number(d.earliestNs) / 1e9).toFixed(1)}–${(Number(d.latestNs) / 1e9).toFixed(1)}`;

// Heartbeats reach the server at most every 8 s (the worker's throttle); this keeps the latest fresh.
const HEARTBEAT_MS = 1_000;

/**
 * The name a recording's RTP copies are attached under at the node's ingest: one per worker
 * process. A recording that takes over in another process must neither replace nor detach the
 * ports of one still running there (its lease lapsed while the process lived on), while a process
 * that restarts replaces its own. An id (64 characters at most), as the node API requires.
 */
export function recorderOwner(recordingId: string, workerQueue: string): string {
  const slot = workerQueue.slice(workerQueue.lastIndexOf('-') + 1);
  const owner = `${recordingId}_${slot}`;
  if (owner.length <= 64 && /^[A-Za-z0-9_-]+$/.test(slot)) return owner;
  return `r_${createHash('sha256').update(`${recordingId}\n${workerQueue}`).digest('hex').slice(0, 40)}`;
}

/**
 * The activities that run a node's recordings. A recording lives in this process between
 * startRecording and its end; awaitRecording is the workflow's lease on it (heartbeats carry
 * its progress, so a lost node's numbering goes on elsewhere), and ends it only when asked:
 * stopRecording, or cancellation of the workflow. A recording whose lease lapsed (its workflow
 * moved to a new run and did not take it back, or was terminated) is ended after a grace period.
 */
export function createNodeActivities(deps: NodeActivityDeps): NodeActivities & {
  close(): Promise<void>;
  running(): RecordingHandle[];
} {
  const entries = new Map<string, Entry>();
  const log = (line: string) => deps.log?.(line);
  const grace = deps.leaseGraceMs ?? 30_000;

  const end = (e: Entry): Promise<RecordingResult> => {
    e.stopping ??= (async () => {
      // EOS first: the seam with a recording that took over is as short as it can be.
      const stopped = e.recording.stop();
      await e.follower.stop().catch((err: Error) => log(`${e.key}: ${err.message}`));
      await stopped;
      // Ended means stored: the last snippets are delivered before the workflow hears of it.
      if (!(await deps.deliverer.settled(e.recording.dir, 60_000)))
        log(`${e.key}: snippets still waiting for the store; they stay in the spool`);
      entries.delete(e.handle.handleId);
      e.changed();
      return {
        recordingId: e.handle.recordingId,
        startedAtMs: e.handle.startedAtMs,
        endedAtMs: Date.now(),
        lastSeq: e.progress.lastSeq,
        snippets: e.progress.snippets,
        atMs: Date.now(),
      };
    })();
    return e.stopping;
  };
  // Ended from a timer or an event, where nobody awaits it: a failure must be logged, not left to
  // end this process (and every other recording in it) as an unhandled rejection.
  const endInBackground = (e: Entry) =>
    void end(e).catch((err: Error) => log(`${e.key}: ending it failed: ${err.message}`));

  const reaper = setInterval(() => {
    for (const e of entries.values())
      if (e.leases === 0 && !e.stopping && Date.now() - e.leaseLapsedAt > grace) {
        log(`${e.key}: nobody holds it any more; ending it`);
        endInBackground(e);
      }
  }, 1_000);
  reaper.unref();

  const findByKey = (key: string) => [...entries.values()].find((e) => e.key === key);

  return {
    async startRecording(req: RecordingRequest): Promise<RecordingHandle> {
      const key = `${req.livestreamId}/${req.recordingId}`;
      const owner = recorderOwner(req.recordingId, deps.workerQueue);
      const asked = Date.now();
      const existing = findByKey(key);
      // A retried start finds the recording its first attempt made.
      if (existing && !existing.stopping && !existing.failure) return existing.handle;
      // The same track restarting (camera back on) reuses its spool folder: the old one must be done.
      if (existing?.stopping) await existing.stopping.catch(() => undefined);
      // Filled from the first snippet on, which opens before start() returns.
      const progress: RecordingProgress = { lastSeq: null, snippets: 0, atMs: Date.now() };
      let reportAs: string | null = null;
      const onEvent = (event: WorkerEvent) => {
        if (event.event === 'snippet-opened') {
          progress.lastSeq = Math.max(progress.lastSeq ?? -1, event.data.seq);
          progress.snippets += 1;
          if (reportAs) deps.leases?.progress(reportAs, { ...progress, atMs: Date.now() });
        } else if (event.event === 'warning' || event.event === 'error')
          log(`${key} ${event.event}: ${JSON.stringify(event.data)}`);
        else if (event.event === 'held-up') {
          // On the bus, so scoring leaves the stretch out: the recorder's fault, not the host's.
          const { fromMs, ms, withinMs, media } = event.data;
          deps.outbox
            .add(
              heldUpCloudEvent({
                livestreamId: req.livestreamId,
                track: recordingTrack(req.kind, req.hostId),
                recordingId: req.recordingId,
                fromMs,
                toMs: fromMs + ms,
                withinMs,
                ...(media ? { media } : {}),
              }),
            )
            .catch((err: unknown) => log(`${key}: hold-up not announced: ${String(err)}`));
        } else if (
          event.event === 'sound-started' &&
          Number(event.data.earliestNs) >= LATE_SOUND_NS
        )
          log(
            `${key}: ${event.data.id}'s first sound came ${secondsBetween(event.data)} s after its input joined; silent until then`,
          );
      };
      let spec: Omit<RecordingSpec, 'outDir'>;
      let only: ConstructorParameters<typeof IngestFollower>[0]['only'];
      if (req.kind === 'composite') {
        spec = {
          kind: 'composite',
          recordingId: req.recordingId,
          profile: req.profile,
          inputs: [],
          ...((await deps.ingest.sharesDecoding()) ? { sharedPictures: true } : {}),
          ...(req.rtmpUrl ? { rtmpUrl: req.rtmpUrl } : {}),
          ...(req.hlsDir ? { hlsDir: req.hlsDir } : {}),
        };
      } else {
        const hostId = req.hostId!;
        const host = (await deps.ingest.hosts(req.livestreamId)).find((h) => h.hostId === hostId);
        if (!host?.media)
          throw ApplicationFailure.retryable(`host ${hostId} has not published yet`, 'NoMedia');
        const view = viewOfSnapshot(host);
        const source = await hostSource(
          deps.ingest,
          req.livestreamId,
          hostId,
          host.media,
          req.kind === 'host' ? 'video+audio' : 'audio',
          req.profile.video.fps,
          'host',
        );
        only = { hostId, view, media: host.media, source };
        spec = {
          kind: req.kind,
          recordingId: req.recordingId,
          profile: req.profile,
          inputs: [
            { id: hostId, displayName: hostId, source, cameraOn: view.cameraOn && !view.dropped },
          ],
        };
      }
      // A host's ports are attached before the pipeline starts, so its first samples are the
      // host's own and the recording it replaces can end the moment this one runs.
      if (only)
        await deps.ingest.attach(req.livestreamId, only.hostId, owner, portsOf(only.source));
      const recording = await LiveRecording.start({
        livestreamId: req.livestreamId,
        spec,
        deliverer: deps.deliverer,
        startSeq: req.startSeq,
        onEvent,
        ...(deps.pool ? { worker: deps.pool.take() } : {}),
        ...(req.hold ? { hold: true } : {}),
      }).catch(async (err: unknown) => {
        if (only)
          await deps.ingest.detach(req.livestreamId, only.hostId, owner).catch(() => undefined);
        throw err;
      });
      const replaced = req.replaces ? entries.get(req.replaces) : undefined;
      if (replaced) endInBackground(replaced);
      const follower = new IngestFollower({
        ingest: deps.ingest,
        livestreamId: req.livestreamId,
        recording,
        owner,
        kinds: req.kind === 'audio' ? 'audio' : 'video+audio',
        ...(only ? { only } : {}),
        onLog: log,
      });
      const handle: RecordingHandle = {
        handleId: randomUUID(),
        workerQueue: deps.workerQueue,
        recordingId: req.recordingId,
        startSeq: recording.startSeq,
        startedAtMs: Date.now(),
      };
      let changed!: () => void;
      const made: Entry = {
        handle,
        key,
        recording,
        follower,
        progress,
        leases: 0,
        leaseLapsedAt: Date.now(),
        stopping: null,
        failure: null,
        changed: () => changed(),
        changes: Promise.resolve(),
      };
      const arm = () => {
        made.changes = new Promise<void>((r) => (changed = r));
      };
      arm();
      made.changed = () => {
        changed();
        arm();
      };
      entries.set(handle.handleId, made);
      reportAs = handle.handleId;
      recording.worker.once('died', ({ code, signal }) => {
        made.failure = {
          error: new Error(`media worker died (${signal ?? `exit code ${code}`})`),
          progress: { ...progress, atMs: Date.now() },
        };
        made.changed();
        endInBackground(made);
      });
      try {
        await follower.start();
      } catch (err) {
        await end(made);
        throw err;
      }
      log(
        `${key}: recording from snippet ${handle.startSeq} (started in ${handle.startedAtMs - asked} ms)`,
      );
      return handle;
    },

    async awaitRecording(handle: RecordingHandle): Promise<RecordingResult> {
      const e = entries.get(handle.handleId);
      if (!e)
        throw ApplicationFailure.nonRetryable(
          `recording ${handle.recordingId} is not running on this node (its worker restarted)`,
          'RecordingLost',
        );
      const ctx = Context.current();
      const token = ctx.info.taskToken;
      e.leases += 1;
      deps.leases?.held(token, e.handle, { ...e.progress, atMs: Date.now() });
      try {
        for (;;) {
          ctx.heartbeat({ ...e.progress, atMs: Date.now() });
          // The snippets it opened are numbered: the recording that takes over goes on after them.
          if (e.failure)
            throw ApplicationFailure.nonRetryable(
              e.failure.error.message,
              'RecordingLost',
              e.failure.progress,
            );
          if (e.stopping)
            // Finishing (EOS, the last snippets into the store) takes seconds: keep the lease.
            return await waitWhileStopping(
              ctx,
              e.stopping,
              () => ({ ...e.progress, atMs: Date.now() }),
              HEARTBEAT_MS,
            );
          // A cancellation rejects both the sleep and `cancelled`, and ends the lease below.
          await Promise.race([e.changes, ctx.sleep(HEARTBEAT_MS), ctx.cancelled]);
        }
      } catch (err) {
        // Cancelled: the lease ends, the recording goes on for the next run of its workflow.
        if (err instanceof CancelledFailure) log(`${e.key}: lease released (${err.message})`);
        throw err;
      } finally {
        e.leases -= 1;
        e.leaseLapsedAt = Date.now();
        deps.leases?.ended(token);
      }
    },

    async stopRecording(handle: RecordingHandle): Promise<void> {
      const e = entries.get(handle.handleId);
      if (e) await end(e);
    },

    async reclaimRecording(handle: RecordingHandle): Promise<boolean> {
      const e = entries.get(handle.handleId);
      if (!e || e.stopping || e.failure) return false;
      // The new lease is on its way: the grace for a recording nobody holds starts again.
      e.leaseLapsedAt = Date.now();
      log(`${e.key}: kept after its lease lapsed`);
      return true;
    },

    async releaseRecording(handle: RecordingHandle): Promise<void> {
      const e = entries.get(handle.handleId);
      if (!e)
        throw ApplicationFailure.nonRetryable(
          `recording ${handle.recordingId} is not running on this node`,
          'RecordingLost',
        );
      await e.recording.release();
    },

    async abandonRecording(handle: RecordingHandle): Promise<void> {
      const e = entries.get(handle.handleId);
      if (!e) return;
      if (await e.recording.discard()) log(`${e.key}: repeated a recording still running; deleted`);
      await end(e);
    },

    async announceGap(gap: RecordingGap): Promise<void> {
      await deps.outbox.add(gapCloudEvent(gap));
      deps.onGap?.(gap);
      log(
        `${gap.livestreamId}/${gap.track}: gap of ${gap.toMs - gap.fromMs} ms announced (${gap.reason})`,
      );
    },

    running: () => [...entries.values()].map((e) => e.handle),

    async close(): Promise<void> {
      clearInterval(reaper);
      await Promise.allSettled([...entries.values()].map((e) => end(e)));
    },
  };
}
