import type { HostEvent } from '../domain/host-presence.ts';
import type { OutputProfile } from '../domain/profile.ts';
import type { HostView, NextSeq } from '../domain/recording-plan.ts';
import type { Variant } from '../domain/snippet-key.ts';
import type { RecordingGap } from '../domain/gap-event.ts';

/** What a node records: the composite of a livestream, or one host in MP4 or MP3. */
export interface RecordingRequest {
  livestreamId: string;
  /** Spool and journal name; snippets go to the composite's or the host's track. */
  recordingId: string;
  kind: 'composite' | 'host' | 'audio';
  hostId?: string;
  /** First snippet number: numbering goes on where an earlier run of the same track stopped. */
  startSeq: number;
  profile: OutputProfile;
  /**
   * A recording of the same track this one takes over from (a camera switch): ended with EOS as
   * soon as this one runs, by the same worker process, so the seam stays well under a second.
   */
  replaces?: string;
  /**
   * Keep its snippets in the spool until releaseRecording or abandonRecording: it takes over from
   * a recording whose worker stopped answering but may still be running and storing.
   */
  hold?: boolean;
  /** Live outputs of the composite (RTMP and HLS off unless given). */
  rtmpUrl?: string;
  hlsDir?: string;
}

export interface RecordingHandle {
  /** Names the running recording inside its worker process. */
  handleId: string;
  /** The task queue of that worker process: the lease and the stop must reach it. */
  workerQueue: string;
  recordingId: string;
  startSeq: number;
  startedAtMs: number;
}

export interface RecordingProgress {
  /** Highest snippet number opened so far, or null. */
  lastSeq: number | null;
  snippets: number;
  /** When this was true (ms since the epoch): a lost recording ran at least until then. */
  atMs: number;
}

export interface RecordingResult extends RecordingProgress {
  recordingId: string;
  startedAtMs: number;
  endedAtMs: number;
}

/** Activities on a node's own task queue: they touch its media workers, spool and ingest. */
export interface NodeActivities {
  /** Starts the pipeline and returns once it runs, so a switch can overlap old and new. */
  startRecording(request: RecordingRequest): Promise<RecordingHandle>;
  /** Runs until stopRecording or cancellation, heartbeating progress; both end with EOS. */
  awaitRecording(handle: RecordingHandle): Promise<RecordingResult>;
  stopRecording(handle: RecordingHandle): Promise<void>;
  /**
   * True when this worker still runs the recording and keeps it for a new lease (its lease lapsed
   * while the process lived on: Temporal restarted, the process was paused); false when not.
   */
  reclaimRecording(handle: RecordingHandle): Promise<boolean>;
  /** A held recording is the track's only one: its snippets go to the store. */
  releaseRecording(handle: RecordingHandle): Promise<void>;
  /** A held recording repeats one still running: it ends and its snippets are deleted. */
  abandonRecording(handle: RecordingHandle): Promise<void>;
  /** Puts a `tapedeck.recording.gap` event in the node's outbox. */
  announceGap(gap: RecordingGap): Promise<void>;
}

/** One stretch of a track recorded by one pipeline. */
export interface RecordingSegment {
  recordingId: string;
  variant: Variant;
  firstSeq: number;
  lastSeq: number | null;
  startedAtMs: number;
  endedAtMs: number | null;
  /** Why it ended: switched, stopped, or lost (its worker died; up to the next one is a gap). */
  ended: 'running' | 'switched' | 'stopped' | 'lost';
}

export interface TrackSummary {
  workflowId: string;
  track: string;
  segments: RecordingSegment[];
}

export interface Profiles {
  composite: OutputProfile;
  host: OutputProfile;
}

export interface LivestreamInput {
  livestreamId: string;
  nodeId: string;
  /** Worker processes on the node: recordings are spread over them. Default 1. */
  workerSlots?: number;
  profiles: Profiles;
  rtmpUrl?: string;
  hlsDir?: string;
  /**
   * Events each of the livestream's workflows lets its history reach before it goes on as a new
   * run (Continue-As-New). Default 5,000 for the livestream's, 2,000 for a recording's; Temporal
   * asks for a new run sooner when its own limits near.
   */
  historyLimit?: number;
  /** Carried over by Continue-As-New. */
  carried?: LivestreamCarried;
}

export interface LivestreamCarried {
  hosts: Record<string, HostView>;
  started: string[];
  ended: Record<string, TrackSummary>;
  stopping: boolean;
  eventsSeen: number;
}

export interface LivestreamState {
  livestreamId: string;
  stopping: boolean;
  hosts: HostView[];
  recordingWorkflows: string[];
  ended: string[];
}

export interface TrackInput {
  livestreamId: string;
  nodeId: string;
  workerSlots?: number;
  parentWorkflowId: string;
  profile: OutputProfile;
  /** Host recordings; absent for the composite. */
  hostId?: string;
  view?: HostView;
  rtmpUrl?: string;
  hlsDir?: string;
  /** See LivestreamInput. */
  historyLimit?: number;
  /** Carried over by Continue-As-New. */
  nextSeq?: NextSeq;
  segments?: RecordingSegment[];
  stopping?: boolean;
  running?: { variant: Variant; handle: RecordingHandle } | null;
}

export type { HostEvent };
