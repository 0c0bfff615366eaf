import type { HostEvent, HostEventType } from './host-presence.ts';
import { assertId } from './ids.ts';
import type { Variant } from './snippet-key.ts';

/**
 * What the orchestration knows about a host from its events, and what it records of it: MP4
 * (audio and video) while the camera is on, MP3 (audio only) while it is off, nothing while the
 * host is away. A dropped host keeps its format through the grace period, so a short network
 * hiccup does not cut a recording in two.
 */
export interface HostView {
  hostId: string;
  present: boolean;
  dropped: boolean;
  cameraOn: boolean;
  microphoneOn: boolean;
  /** ms since the epoch of the last event applied. */
  at: number;
}

export function initialHostView(hostId: string): HostView {
  return { hostId, present: false, dropped: false, cameraOn: false, microphoneOn: false, at: 0 };
}

/** Whether a host change moves the view the recordings follow; the '-started' ones are for scoring. */
export function changesHostView(type: HostEventType): boolean {
  return type !== 'audio-started' && type !== 'video-started';
}

export function applyHostEvent(view: HostView, e: HostEvent): HostView {
  const v = { ...view, at: Math.max(view.at, e.at) };
  switch (e.type) {
    case 'joined':
      return { ...v, present: true, dropped: false, cameraOn: true, microphoneOn: true };
    case 'left':
      return { ...v, present: false, dropped: false };
    case 'dropped':
      return { ...v, dropped: true };
    case 'resumed':
      return { ...v, dropped: false };
    case 'camera-on':
      return { ...v, cameraOn: true };
    case 'camera-off':
      return { ...v, cameraOn: false };
    case 'microphone-on':
      return { ...v, microphoneOn: true };
    case 'microphone-off':
      return { ...v, microphoneOn: false };
    default:
      return v;
  }
}

export function hostVariant(view: HostView): Variant | null {
  if (!view.present) return null;
  return view.cameraOn ? 'mp4' : 'mp3';
}

/** Spool and journal name of one of a host's recordings; its snippets go to the host's track. */
export function hostRecordingId(hostId: string, variant: Variant): string {
  return assertId('recording id', `host-${hostId}-${variant}`.slice(0, 64));
}

/** Workflow ids follow from the livestream and host ids, so starting one twice is a no-op. */
export const workflowIds = {
  livestream: (livestreamId: string) => `tapedeck-livestream-${livestreamId}`,
  composite: (livestreamId: string) => `tapedeck-livestream-${livestreamId}-composite`,
  host: (livestreamId: string, hostId: string) =>
    `tapedeck-livestream-${livestreamId}-host-${hostId}`,
};

/** Workflow code runs on the shared control queue; media activities on their node's own queue. */
export const CONTROL_TASK_QUEUE = 'tapedeck-control';

export function nodeTaskQueue(nodeId: string): string {
  return `tapedeck-media-${assertId('node id', nodeId)}`;
}

/** One worker process of a node: what only that process can do (its running recordings). */
export function workerTaskQueue(nodeId: string, slot: number): string {
  return `${nodeTaskQueue(nodeId)}-w${slot}`;
}

/** Next snippet number per variant of a track: numbering goes on across restarts and switches. */
export type NextSeq = Record<Variant, number>;

export function afterLastSeq(next: NextSeq, variant: Variant, lastSeq: number | null): NextSeq {
  if (lastSeq === null) return next;
  return { ...next, [variant]: Math.max(next[variant], lastSeq + 1) };
}
