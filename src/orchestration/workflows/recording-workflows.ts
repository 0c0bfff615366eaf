import {
  continueAsNew,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  workerTaskQueue,
  applyHostEvent,
  hostRecordingId,
  hostVariant,
  nodeTaskQueue,
} from '../../domain/recording-plan.ts';
import { COMPOSITE_TRACK, hostTrack } from '../../domain/snippet-key.ts';
import type { RecordingRequest, TrackInput, TrackSummary } from '../contracts.ts';
import { hostEventSignal, recordingEndedSignal, segmentsQuery, stopSignal } from '../signals.ts';
import { historyFull } from './history.ts';
import { runTrack, type TrackLoopState } from './track-loop.ts';

/** Long livestreams start a fresh history well before Temporal's limits. */
const MAX_HISTORY_EVENTS = 2_000;

/**
 * The worker a track's recordings start on: tracks are spread over the node's workers, so one
 * that dies takes only its share with it, and the survivors take that share over sooner.
 */
function preferredWorker(input: TrackInput, track: string): string | null {
  const slots = input.workerSlots ?? 1;
  if (slots <= 1) return null;
  let h = 0;
  for (const c of `${input.livestreamId}/${track}`) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return workerTaskQueue(input.nodeId, h % slots);
}

async function reportEnded(parentWorkflowId: string, summary: TrackSummary): Promise<void> {
  await getExternalWorkflowHandle(parentWorkflowId).signal(recordingEndedSignal, summary);
}

/** The composite of a livestream: one recording, with RTMP and HLS when configured, until stop. */
export async function compositeRecordingWorkflow(input: TrackInput): Promise<TrackSummary> {
  let stopping = input.stopping ?? false;
  const state: TrackLoopState = {
    nextSeq: input.nextSeq ?? { mp4: 0, mp3: 0 },
    segments: input.segments ?? [],
    running: input.running ?? null,
  };
  setHandler(stopSignal, () => {
    stopping = true;
  });
  setHandler(segmentsQuery, () => state.segments);
  const request = (_variant: 'mp4' | 'mp3', startSeq: number): RecordingRequest => ({
    livestreamId: input.livestreamId,
    recordingId: 'composite',
    kind: 'composite',
    startSeq,
    profile: input.profile,
    ...(input.rtmpUrl ? { rtmpUrl: input.rtmpUrl } : {}),
    ...(input.hlsDir ? { hlsDir: input.hlsDir } : {}),
  });
  const outcome = await runTrack(
    {
      nodeQueue: nodeTaskQueue(input.nodeId),
      preferredQueue: preferredWorker(input, COMPOSITE_TRACK),
      livestreamId: input.livestreamId,
      track: COMPOSITE_TRACK,
      desired: () => 'mp4',
      request,
      stopping: () => stopping,
      historyFull: () => historyFull(input.historyLimit ?? MAX_HISTORY_EVENTS),
    },
    state,
  );
  if (outcome === 'continue')
    await continueAsNew<typeof compositeRecordingWorkflow>({ ...input, ...state, stopping });
  const summary = {
    workflowId: workflowInfo().workflowId,
    track: COMPOSITE_TRACK,
    segments: state.segments,
  };
  await reportEnded(input.parentWorkflowId, summary);
  return summary;
}

/** One host: MP4 while the camera is on, MP3 while it is off, nothing while the host is away. */
export async function hostRecordingWorkflow(input: TrackInput): Promise<TrackSummary> {
  const hostId = input.hostId!;
  let view = input.view!;
  let stopping = input.stopping ?? false;
  const state: TrackLoopState = {
    nextSeq: input.nextSeq ?? { mp4: 0, mp3: 0 },
    segments: input.segments ?? [],
    running: input.running ?? null,
  };
  setHandler(hostEventSignal, (e) => {
    view = applyHostEvent(view, e);
  });
  setHandler(stopSignal, () => {
    stopping = true;
  });
  setHandler(segmentsQuery, () => state.segments);
  const request = (variant: 'mp4' | 'mp3', startSeq: number): RecordingRequest => ({
    livestreamId: input.livestreamId,
    recordingId: hostRecordingId(hostId, variant),
    kind: variant === 'mp4' ? 'host' : 'audio',
    hostId,
    startSeq,
    profile: input.profile,
  });
  const outcome = await runTrack(
    {
      nodeQueue: nodeTaskQueue(input.nodeId),
      preferredQueue: preferredWorker(input, hostTrack(hostId)),
      livestreamId: input.livestreamId,
      track: hostTrack(hostId),
      desired: () => hostVariant(view),
      request,
      stopping: () => stopping,
      historyFull: () => historyFull(input.historyLimit ?? MAX_HISTORY_EVENTS),
    },
    state,
  );
  if (outcome === 'continue')
    await continueAsNew<typeof hostRecordingWorkflow>({ ...input, ...state, view, stopping });
  const summary = {
    workflowId: workflowInfo().workflowId,
    track: hostTrack(hostId),
    segments: state.segments,
  };
  await reportEnded(input.parentWorkflowId, summary);
  return summary;
}
