import type { Duration } from '@temporalio/common';
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import { afterLastSeq, type NextSeq } from '../../domain/recording-plan.ts';
import type { Variant } from '../../domain/snippet-key.ts';
import { WORKER_GONE } from '../worker-report.ts';
import type {
  NodeActivities,
  RecordingHandle,
  RecordingProgress,
  RecordingRequest,
  RecordingResult,
  RecordingSegment,
} from '../contracts.ts';

/** A recording whose awaitRecording lease is held by this run. */
export interface RunningRecording {
  variant: Variant;
  handle: RecordingHandle;
}

export interface TrackLoopState {
  nextSeq: NextSeq;
  segments: RecordingSegment[];
  /** Handed over by Continue-As-New: the node keeps it running while the next run takes it. */
  running: RunningRecording | null;
}

export interface TrackLoopOptions {
  nodeQueue: string;
  /** The worker new recordings of this track start on when it answers; any of the node's else. */
  preferredQueue: string | null;
  livestreamId: string;
  track: string;
  /** The variant to record now, or null for none; read again after every change. */
  desired: () => Variant | null;
  request: (variant: Variant, startSeq: number) => RecordingRequest;
  stopping: () => boolean;
  /** True when the history is long enough for Continue-As-New. */
  historyFull: () => boolean;
}

function nodeActivities(queue: string) {
  const start = proxyActivities<NodeActivities>({
    taskQueue: queue,
    startToCloseTimeout: '60 seconds',
    retry: { initialInterval: '500 ms', maximumInterval: '5 seconds', maximumAttempts: 20 },
  });
  return { startRecording: start.startRecording, announceGap: start.announceGap };
}

/** A switch starts the new recording in the process of the old one, which it then ends. */
function switchActivities(workerQueue: string, scheduleToStartTimeout: Duration = '5 seconds') {
  return proxyActivities<NodeActivities>({
    taskQueue: workerQueue,
    scheduleToStartTimeout,
    startToCloseTimeout: '60 seconds',
    retry: { maximumAttempts: 1 },
  });
}

/** Activities for one running recording: they go to the worker process that holds it. */
function recordingActivities(workerQueue: string) {
  // The lease. A worker process that dies has its leases failed by its node at once
  // (worker-report.ts); the heartbeat timeout is for what the node cannot see: a stalled process, a
  // node gone whole. Not retried: the recording lived in that process; the loop starts a new one
  // instead. A lease that cannot even start (the process is gone) fails after 10 s.
  const lease = proxyActivities<NodeActivities>({
    taskQueue: workerQueue,
    scheduleToStartTimeout: '10 seconds',
    startToCloseTimeout: '3650 days',
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 1 },
    cancellationType: ActivityCancellationType.TRY_CANCEL,
  });
  const stop = proxyActivities<NodeActivities>({
    taskQueue: workerQueue,
    scheduleToStartTimeout: '10 seconds',
    startToCloseTimeout: '90 seconds',
    retry: { initialInterval: '500 ms', maximumAttempts: 3 },
  });
  return {
    awaitRecording: lease.awaitRecording,
    stopRecording: stop.stopRecording,
    releaseRecording: stop.releaseRecording,
    abandonRecording: stop.abandonRecording,
  };
}

/** Asks the worker that held a lost lease whether it still runs the recording. */
function reclaimActivities(workerQueue: string) {
  return proxyActivities<NodeActivities>({
    taskQueue: workerQueue,
    // Long enough for a live worker to poll again after Temporal came back. A dead one never
    // answers; the recording that took over records meanwhile, so the wait delays uploads, not media.
    // A lease times out 12 to 20 s into a stall (heartbeats every 8 s, a 20-s timeout): stalls of up
    // to 24 s keep their recordings.
    scheduleToStartTimeout: '12 seconds',
    startToCloseTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
}

/**
 * The progress a lost recording last reported: from its heartbeat timeout (the worker process
 * stalled or went with its node), from its node's report when the worker process exited, or from
 * the failure its worker raised when the media worker under it died. Without it the recording
 * that takes over would number its snippets from where the lost one started.
 */
export function lastHeartbeat(err: unknown): RecordingProgress | null {
  if (!(err instanceof ActivityFailure)) return null;
  if (err.cause instanceof TimeoutFailure) {
    const details = err.cause.lastHeartbeatDetails as RecordingProgress | undefined;
    return details ?? null;
  }
  if (
    err.cause instanceof ApplicationFailure &&
    (err.cause.type === 'RecordingLost' || err.cause.type === WORKER_GONE)
  ) {
    const details = err.cause.details?.[0] as RecordingProgress | undefined;
    return details ?? null;
  }
  return null;
}

/**
 * A start that the stop overtakes ends there, with null. Its retries would otherwise run on: the
 * node closes a livestream's ingest before it signals the stop, so a camera switch under way then
 * finds its host gone and retried NoMedia for about 85 s before the track could end. An attempt
 * already running is waited for (the activity's cancellation waits for it), so a recording it
 * made is returned and stopped as usual rather than left running unseen.
 */
async function startUnlessStopped(
  stopping: () => boolean,
  start: () => Promise<RecordingHandle>,
): Promise<RecordingHandle | null> {
  // Histories recorded before this change replay the start as it was: awaited to the end.
  if (!patched('stop-ends-start-retries')) return start();
  if (stopping()) return null;
  const scope = new CancellationScope();
  let settled = false;
  let overtaken = false;
  void condition(() => settled || stopping()).then(() => {
    if (settled) return;
    overtaken = true;
    scope.cancel();
  });
  try {
    return await scope.run(start);
  } catch (err) {
    // A failed attempt after the cancellation, or the cancellation itself: the stop came first.
    // A cancellation of the whole workflow still goes up to its caller.
    if (overtaken && !CancellationScope.current().consideredCancelled) return null;
    throw err;
  } finally {
    settled = true;
  }
}

interface Lease {
  running: RunningRecording;
  segment: RecordingSegment;
  done: boolean;
  result?: RecordingResult;
  error?: unknown;
  settled: Promise<void>;
}

/**
 * Keeps one track recorded the way `desired` says, on the node's queue: starts the new
 * recording before it stops the old one (a switch leaves no hole), restarts a recording whose
 * node died with the numbering going on, and ends everything with EOS on stop or cancellation.
 * Returns 'stopped', or 'continue' with a recording still running for the next run to take.
 */
export async function runTrack(
  o: TrackLoopOptions,
  state: TrackLoopState,
): Promise<'stopped' | 'continue'> {
  const acts = nodeActivities(o.nodeQueue);
  let current: Lease | null = null;
  let wake = 0;
  /** A lost recording's last sign of life, until the one that takes over has started. */
  let lost: {
    recordingId: string;
    sinceMs: number;
    handle: RecordingHandle;
    variant: Variant;
    /** Its lease timed out: the worker may live on and still be recording. */
    maybeRunning: boolean;
    /**
     * Its progress came from a report that may have missed the last snippet it opened (its
     * worker process exited): the next recording is numbered one past the next, as in takeOver.
     */
    unreported: boolean;
  } | null = null;

  const hold = (running: RunningRecording, segment: RecordingSegment): Lease => {
    const l: Lease = { running, segment, done: false, settled: Promise.resolve() };
    l.settled = recordingActivities(running.handle.workerQueue)
      .awaitRecording(running.handle)
      .then(
        (result) => {
          l.result = result;
        },
        (err: unknown) => {
          l.error = err;
        },
      );
    void l.settled.then(() => {
      l.done = true;
      wake += 1;
    });
    return l;
  };

  const settle = (l: Lease, how: RecordingSegment['ended']): void => {
    const progress = l.result ?? lastHeartbeat(l.error);
    if (l.error && !isCancellation(l.error))
      lost = {
        recordingId: l.running.handle.recordingId,
        sinceMs: progress?.atMs ?? l.running.handle.startedAtMs,
        handle: l.running.handle,
        variant: l.running.variant,
        maybeRunning: l.error instanceof ActivityFailure && l.error.cause instanceof TimeoutFailure,
        unreported:
          l.error instanceof ActivityFailure &&
          l.error.cause instanceof ApplicationFailure &&
          l.error.cause.type === WORKER_GONE,
      };
    const lastSeq = progress?.lastSeq ?? null;
    l.segment.lastSeq = lastSeq;
    l.segment.endedAtMs = l.result?.endedAtMs ?? Date.now();
    l.segment.ended = l.error && !isCancellation(l.error) ? 'lost' : how;
    state.nextSeq = afterLastSeq(state.nextSeq, l.running.variant, lastSeq);
  };

  /** Books a recording that now runs for the track, and announces the gap a lost one left. */
  const started = async (variant: Variant, handle: RecordingHandle): Promise<Lease> => {
    const segment: RecordingSegment = {
      recordingId: handle.recordingId,
      variant,
      firstSeq: handle.startSeq,
      lastSeq: null,
      startedAtMs: handle.startedAtMs,
      endedAtMs: null,
      ended: 'running',
    };
    state.segments.push(segment);
    // The next snippet number is reserved now: a recording lost before it reports still used it.
    state.nextSeq = afterLastSeq(state.nextSeq, variant, handle.startSeq);
    if (lost) {
      const gap = {
        livestreamId: o.livestreamId,
        track: o.track,
        lostRecordingId: lost.recordingId,
        nextRecordingId: handle.recordingId,
        fromMs: Math.min(lost.sinceMs, handle.startedAtMs),
        toMs: handle.startedAtMs,
        reason: 'the recording was lost (its worker stopped) and started again',
      };
      lost = null;
      await acts.announceGap(gap);
    }
    return hold({ variant, handle }, segment);
  };

  /** The lost recording goes on under a new lease, in the segment it had. */
  const keep = (variant: Variant, handle: RecordingHandle): Lease | null => {
    const segment = state.segments.find(
      (s) => s.recordingId === handle.recordingId && s.startedAtMs === handle.startedAtMs,
    );
    if (!segment) return null;
    lost = null;
    segment.ended = 'running';
    segment.endedAtMs = null;
    return hold({ variant, handle }, segment);
  };

  /**
   * A lease timed out, so the worker may live on with the recording still running (Temporal
   * restarted, the process was paused). A new recording starts at once so no media is missed, but
   * held: its snippets stay in its spool while the old worker is asked whether it still runs the
   * old one. If it does, the old one goes on and the new one is deleted; if it does not, or never
   * answers, the new one's snippets go to the store. Only one of the two ever stores.
   */
  const takeOver = async (variant: Variant, from: RecordingHandle): Promise<Lease | null> => {
    // Numbered one past the next: heartbeats reach the server at most every 1.2 s, so the lost
    // recording may have opened one snippet its last heartbeat did not report, and that snippet
    // is still delivered (its media process finishes it, the restarted worker stores it). The
    // number is then either that snippet's or missing inside the announced gap, never used twice.
    const request = o.request(variant, state.nextSeq[variant] + 1);
    const held = await startUnlessStopped(o.stopping, () =>
      acts.startRecording({ ...request, hold: true }),
    );
    if (!held) return null;
    // The old worker answered the start itself: it handed back the recording it still runs.
    if (held.handleId === from.handleId) return keep(variant, from) ?? started(variant, held);
    const heldActs = recordingActivities(held.workerQueue);
    let stillRunning = false;
    try {
      stillRunning = await reclaimActivities(from.workerQueue).reclaimRecording(from);
    } catch (err) {
      if (isCancellation(err)) {
        // Ending now: what the new one recorded is kept rather than risked.
        await CancellationScope.nonCancellable(async () => {
          await heldActs.releaseRecording(held).catch(() => undefined);
          await heldActs.stopRecording(held).catch(() => undefined);
        });
        throw err;
      }
      log.warn('the worker of a lost recording did not answer; the new recording stands', { err });
    }
    if (stillRunning) {
      const kept = keep(variant, from);
      if (kept) {
        await heldActs.abandonRecording(held).catch((err: unknown) => {
          log.warn('abandoning a held recording failed; its node ends it unstored', { err });
        });
        return kept;
      }
      // Running, but this run has no segment for it: it ends before the new one stores.
      await recordingActivities(from.workerQueue)
        .stopRecording(from)
        .catch(() => undefined);
    }
    await heldActs.releaseRecording(held).catch((err: unknown) => {
      log.warn('releasing a held recording failed; its lease will tell', { err });
    });
    return started(variant, held);
  };

  /** The recording now running for variant, or null when the stop came before one started. */
  const launch = async (variant: Variant, replacing: Lease | null): Promise<Lease | null> => {
    const skip = lost?.variant === variant && lost.unreported ? 1 : 0;
    const request = o.request(variant, state.nextSeq[variant] + skip);
    let handle: RecordingHandle | null = null;
    if (replacing && !replacing.done) {
      const { workerQueue, handleId } = replacing.running.handle;
      try {
        handle = await switchActivities(workerQueue).startRecording({
          ...request,
          replaces: handleId,
        });
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.warn('switching in the same worker failed; starting anywhere', { err });
      }
    }
    if (!handle && lost && lost.variant === variant && lost.maybeRunning)
      return takeOver(variant, lost.handle);
    // Its worker said the recording is gone (its media process died) and still answers: the
    // new one starts there when it can within 0.3 s, anywhere else otherwise.
    if (!handle && lost && lost.variant === variant) {
      try {
        handle = await switchActivities(lost.handle.workerQueue, '300 ms').startRecording(request);
      } catch (err) {
        if (isCancellation(err)) throw err;
      }
    }
    if (!handle && !lost && o.preferredQueue) {
      try {
        handle = await switchActivities(o.preferredQueue, '500 ms').startRecording(request);
      } catch (err) {
        if (isCancellation(err)) throw err;
      }
    }
    handle ??= await startUnlessStopped(o.stopping, () => acts.startRecording(request));
    return handle ? started(variant, handle) : null;
  };

  const finish = async (l: Lease, how: RecordingSegment['ended']): Promise<void> => {
    await recordingActivities(l.running.handle.workerQueue)
      .stopRecording(l.running.handle)
      .catch((err: unknown) => {
        log.warn('stopRecording failed; the node ends recordings whose lease lapsed', { err });
      });
    await l.settled;
    settle(l, how);
  };

  if (state.running) {
    const segment = state.segments.find(
      (s) => s.recordingId === state.running!.handle.recordingId && s.ended === 'running',
    );
    if (segment) current = hold(state.running, segment);
    state.running = null;
  }

  try {
    for (;;) {
      if (current?.done) {
        // It ended without being asked to: its worker died or its pipeline failed.
        settle(current, 'lost');
        log.warn('recording lost; starting it again', {
          recordingId: current.running.handle.recordingId,
        });
        // One that keeps dying right after its start is not restarted in a tight loop.
        const livedMs = Date.now() - current.running.handle.startedAtMs;
        const lapsed = current;
        current = null;
        // A lease can lapse while its worker lives on; when stopping, that recording still ends
        // with EOS (a dead worker simply does not answer).
        if (o.stopping()) {
          await recordingActivities(lapsed.running.handle.workerQueue)
            .stopRecording(lapsed.running.handle)
            .catch(() => undefined);
          continue;
        }
        if (livedMs < 5_000) await sleep('2 seconds');
      }
      const want = o.stopping() ? null : o.desired();
      if (want !== (current?.running.variant ?? null)) {
        const old: Lease | null = current;
        current = null;
        if (want) {
          try {
            current = await launch(want, old);
          } catch (err) {
            if (isCancellation(err)) throw err;
            log.error('could not start a recording; trying again', { err });
            await sleep('2 seconds');
          }
        }
        if (old) await finish(old, current ? 'switched' : 'stopped');
        continue;
      }
      if (!current && o.stopping()) return 'stopped';
      if (o.historyFull()) {
        state.running = current ? current.running : null;
        return 'continue';
      }
      const seen = wake;
      const variant = current?.running.variant ?? null;
      await condition(
        () =>
          wake !== seen ||
          o.historyFull() ||
          (o.stopping() ? null : o.desired()) !== variant ||
          (o.stopping() && variant === null),
      );
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: the last snippet is still finished with EOS.
    const l = current as Lease | null;
    if (l) await CancellationScope.nonCancellable(() => finish(l, 'stopped'));
    throw err;
  }
}
